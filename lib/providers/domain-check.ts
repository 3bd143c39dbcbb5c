/**
 * The provider of DomainVerification: checks a server's libvirt domain XML on the host that runs
 * it. The program gives it that one host (the pinned or only candidate, or the one Nova names:
 * ServerHost), with what the domain must look like there, so its inputs do not grow with the
 * number of hosts; a host outside the plan comes with no candidate and fails the check.
 */
import type { DomainCandidate } from "../desired/check-targets";
import { sshRunner, verifyDomain } from "./collect";
import { fail } from "../checks/result";
import { checkProvider } from "./check";
import type { Failure } from "./inputs";
import { known, nonEmptyString, targetProblems } from "./inputs";

export interface DomainCheckInputs {
  serverName: string;
  serverId: string;
  /** The host that runs the server: pinned, the only candidate, or as Nova says. */
  placedOn: string;
  /** That host, when it is one the server may be placed on, with its expected domain; else empty. */
  candidates: DomainCandidate[];
  script: string;
  verifyRevision: string;
}

function candidateProblems(c: unknown): Failure[] {
  if (!known(c)) return [];
  if (!Array.isArray(c) || c.length > 1)
    return [{ property: "candidates", reason: "must list the planned host that runs the server, or none" }];
  return c.flatMap((x: DomainCandidate, n) => (known(x) ? targetProblems(x.target, `candidates[${n}].target`) : []));
}

export const domainCheckProvider = checkProvider<DomainCheckInputs>({
  inputs: ["serverName", "serverId", "placedOn", "candidates", "script", "verifyRevision"],
  what: (i) => `domain verification of ${i.serverName} (${i.serverId}) on ${i.placedOn}`,
  id: (i) => `domain-verification-${i.serverId}`,
  problems: (i) => [
    ...nonEmptyString(i.serverId, "serverId", "must be the server's instance UUID"),
    ...nonEmptyString(i.placedOn, "placedOn", "must name the host that runs the server"),
    ...candidateProblems(i.candidates),
  ],
  run: async (i, auth) => {
    if (i.candidates.length === 0)
      return {
        observed: [
          fail(
            "instance placement",
            "on an RT host of the plan that the server's flavor may use",
            `on ${i.placedOn}`,
            "Nova placed the server outside the RT aggregate: check that AggregateInstanceExtraSpecsFilter is in " +
              "[filter_scheduler] enabled_filters and the flavor's aggregate extra spec, then rebuild the server " +
              "(`pulumi refresh` re-reads where it runs)",
          ),
        ],
        measured: [],
      };
    const found = await verifyDomain(
      i.serverId,
      i.candidates.map((c) => ({
        name: c.host,
        run: sshRunner(c.target, auth, { "domain-xml.sh": i.script }),
        expectation: c.expectation,
      })),
    );
    return { observed: found.results, measured: [] };
  },
});
