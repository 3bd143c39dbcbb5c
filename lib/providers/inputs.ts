/**
 * Input checks of the dynamic providers, run by `check` in previews too: a value that comes from
 * another resource is not known yet there (the unknown sentinel), and is checked once it is.
 */
import type * as pulumi from "@pulumi/pulumi";

/** The engine's placeholder for a value not known during a preview (pulumi.runtime.unknownValue). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export type Failure = pulumi.dynamic.CheckFailure;

export const known = (v: unknown) => v !== UNKNOWN;

export function targetProblems(t: unknown, path: string): Failure[] {
  if (!known(t)) return [];
  if (typeof t !== "object" || t === null)
    return [{ property: path, reason: "must be {host, port, user, hostKey?, proxy?}" }];
  const o = t as Record<string, unknown>;
  const failures: Failure[] = [];
  for (const k of ["host", "user"])
    if (known(o[k]) && (typeof o[k] !== "string" || o[k] === ""))
      failures.push({ property: `${path}.${k}`, reason: "must be a non-empty string" });
  if (known(o.port) && !Number.isInteger(o.port))
    failures.push({ property: `${path}.port`, reason: "must be a port number" });
  if (o.hostKey !== undefined && known(o.hostKey) && typeof o.hostKey !== "string")
    failures.push({ property: `${path}.hostKey`, reason: "must be a public key line" });
  if (o.proxy !== undefined) failures.push(...targetProblems(o.proxy, `${path}.proxy`));
  return failures;
}

export function nonEmptyString(v: unknown, property: string, reason: string): Failure[] {
  return known(v) && (typeof v !== "string" || v === "") ? [{ property, reason }] : [];
}

export function positiveInteger(v: unknown, property: string, reason: string): Failure[] {
  return known(v) && !(Number.isInteger(v) && (v as number) > 0) ? [{ property, reason }] : [];
}
