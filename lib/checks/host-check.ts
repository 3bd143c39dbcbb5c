/**
 * What a host check is: the host-facts.sh sections it reads, whether `pulumi refresh` re-reads it,
 * when it applies, and how it judges its sections against the plan. lib/checks/host.ts lists the
 * checks; runHostChecks hands each one only the sections it declared.
 */
import type { HostPlan } from "../plan/host";
import type { CheckResult } from "./result";
import { fail } from "./result";

/** host-facts.sh's output: each `=== name ===` section's text by its name. */
export type HostSections = Readonly<Record<string, string>>;

/**
 * One host check: the host-facts.sh sections it reads and how it judges them. Adding a check is
 * its section in hostprep/verify/host-facts.sh and a `hostCheck` listed in HOST_CHECKS; the
 * collection, the refresh split and the script/check agreement test follow from the declaration.
 */
export interface HostCheck<S extends string = string> {
  /** The `=== name ===` sections of host-facts.sh it reads; the script prints each of them. */
  readonly sections: readonly S[];
  /** `observed`: a fact `pulumi refresh` re-reads. `measured`: a snapshot, only on create and update (the latency stages run apart: lib/checks/latency-stages.ts). */
  readonly kind: "observed" | "measured";
  /** Whether it applies to this host and run; by default it always does. */
  readonly applies?: (plan: HostPlan) => boolean;
  readonly check: (facts: { readonly [K in S]: string }, plan: HostPlan) => CheckResult[];
}

/** Declares a host check; the sections it names are the only facts it is handed. */
export function hostCheck<const S extends string>(c: HostCheck<S>): HostCheck<S> {
  return c;
}

/**
 * Runs the checks of one kind that apply, each on the sections it declared. A declared section
 * the output lacks fails that check: the script and the check disagree.
 */
export function runHostChecks(
  sections: HostSections,
  plan: HostPlan,
  kind: HostCheck["kind"],
  checks: readonly HostCheck[],
): CheckResult[] {
  return checks
    .filter((c) => c.kind === kind && (c.applies?.(plan) ?? true))
    .flatMap((c) => {
      const missing = c.sections.filter((name) => !Object.hasOwn(sections, name));
      if (missing.length > 0)
        return [
          fail(
            `host facts ${missing.join(", ")}`,
            `the section${missing.length > 1 ? "s" : ""} ${missing.map((m) => `=== ${m} ===`).join(", ")} in host-facts.sh's output`,
            "absent",
            "the script printed no such section: a host check and hostprep/verify/host-facts.sh disagree; print the section in the script",
          ),
        ];
      return c.check(Object.fromEntries(c.sections.map((name) => [name, sections[name]])), plan);
    });
}

/** Every section some host check reads: what host-facts.sh must print. */
export function hostSectionsRead(checks: readonly HostCheck[]): string[] {
  return [...new Set(checks.flatMap((c) => c.sections))];
}
