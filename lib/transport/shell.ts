/** Building the one shell command line sent over SSH: `bash -s -- <args>`, every argument quoted. */

/** Quotes one argument for a POSIX shell; NUL and newlines are refused, since no script takes them. */
export function shellQuote(arg: string): string {
  if (/[\0\n\r]/.test(arg))
    throw new Error(`refusing to pass an argument with a NUL or newline to a shell: ${JSON.stringify(arg)}`);
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command that runs a script given on stdin with these arguments. */
export function bashStdinCommand(args: readonly string[]): string {
  return ["bash", "-s", "--", ...args].map(shellQuote).join(" ");
}
