/** The provider of DomainVerification: finds the server's libvirt domain on its candidate hosts and checks its XML. */
import type { DomainExpectation } from "../checks/domain";
import type { SshTarget } from "../transport/ssh";
import { sshRunner, verifyDomain } from "../checks/collect";
import { checkProvider } from "./check";
import type { Failure } from "./inputs";
import { known, nonEmptyString, targetProblems } from "./inputs";

export interface DomainCandidate {
  host: string;
  target: SshTarget;
  expectation: DomainExpectation;
}

export interface DomainCheckInputs {
  serverName: string;
  serverId: string;
  candidates: DomainCandidate[];
  script: string;
  verifyRevision: string;
}

function candidateProblems(c: unknown): Failure[] {
  if (!known(c)) return [];
  if (!Array.isArray(c) || c.length === 0)
    return [{ property: "candidates", reason: "must list the RT hosts the server may run on" }];
  return c.flatMap((x: DomainCandidate, n) => (known(x) ? targetProblems(x.target, `candidates[${n}].target`) : []));
}

export const domainCheckProvider = checkProvider<DomainCheckInputs>({
  inputs: ["serverName", "serverId", "candidates", "script", "verifyRevision"],
  what: (i) => `domain verification of ${i.serverName} (${i.serverId})`,
  id: (i) => `domain-verification-${i.serverId}`,
  problems: (i) => [
    ...nonEmptyString(i.serverId, "serverId", "must be the server's instance UUID"),
    ...candidateProblems(i.candidates),
  ],
  run: async (i, auth) => {
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
