/**
 * Errors that keep their meaning inside a dynamic provider. Pulumi serializes a provider's code
 * into state and rebuilds it in another process, where a project's `Error` subclass comes back
 * without its message and `instanceof` against a project class is false. So errors here are
 * plain `Error`s tagged with a `code`, and callers test the code.
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
