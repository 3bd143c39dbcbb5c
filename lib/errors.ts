/**
 * Errors as plain `Error`s tagged with a `code`, which callers test instead of a class: a
 * provider's bundle carries its own copy of every module it uses, so a class test would fail
 * across the bundle's copy and the program's, while a code means the same in both.
 */
export type CodedError<C extends string> = Error & { code: C };

export function codedError<C extends string, X extends object>(code: C, message: string, extra?: X): CodedError<C> & X {
  return Object.assign(new Error(message), { code }, extra);
}

export function hasCode<C extends string>(e: unknown, code: C): e is CodedError<C> {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === code;
}

/** The message of anything thrown, without relying on its class. */
export function messageOf(e: unknown): string {
  const message = typeof e === "object" && e !== null ? (e as { message?: unknown }).message : undefined;
  return typeof message === "string" && message !== "" ? message : String(e);
}
