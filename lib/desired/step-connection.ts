/** How a host prep step reaches its host: the SSH connection and the command line SSH runs. */
import type { HostConfig } from "../config/schema";
import type { ScriptName } from "../hostprep/scripts";
import { HOSTPREP_REMOTE_DIR, stepFiles } from "../hostprep/scripts";
import { bashStdinCommand, shellQuote } from "../transport/shell";

export type SshConfig = HostConfig["ssh"];

/**
 * What a step's command runs first, as `bash -c` with the arguments `<copy> <dir> <file>=<sha256>...
 * -- <script's arguments>`: every file the step runs must be in the copy of hostprep/ with the
 * bytes the plan was made from, or it stops (exit 3) before anything runs, naming the file, both
 * digests and the fix; then the script (the first file) runs from the copy, so that it sources
 * its libraries beside it. Plain ASCII without a single quote: it is quoted as one word.
 */
export const STEP_LAUNCHER = `set -euo pipefail
copy=$1 dir=$2
shift 2
script=\${1%%=*}
while [ "$1" != -- ]; do
  file=\${1%%=*} want=\${1#*=}
  shift
  found="no such file"
  if [ -f "$dir/$file" ]; then
    found=$(sha256sum <"$dir/$file")
    found="sha256 \${found%% *}"
  fi
  if [ "$found" != "sha256 $want" ]; then
    echo "openstack-rt: $dir/$file is not the file this step runs (expected sha256 $want, found $found): the copy of hostprep/ to this host (resource $copy) did not complete. Run pulumi up again; if it stays so, pulumi up --replace the URN of $copy (pulumi stack --show-urns)." >&2
    exit 3
  fi
done
shift
exec bash "$dir/$script" "$@"`;

/** The name of a host's (or controller's) copy of hostprep/, the CopyToRemote its steps depend on. */
export function hostprepCopyName(name: string): string {
  return `${name}-hostprep`;
}

/** Runs `command` as root through `sudo -n` when the SSH user is not root. */
function asRoot(command: string, sudo: boolean): string {
  // -n: fail at once when sudo would ask for a password (there is no terminal to ask on).
  return sudo ? `sudo -n ${command}` : command;
}

/**
 * The launcher running the first of `files` (stepFiles: `<file>=<sha256>`, the script first) from
 * the copy of hostprep/ made by the resource `copy` (the host's `<name>-hostprep`) with `args`.
 * `dir` is a shell word for the copy's directory: the one under the SSH user's home, or a quoted
 * path where a test runs the checkout's hostprep/.
 */
export function launchCommand(
  files: readonly string[],
  args: readonly string[],
  copy: string,
  dir: string = HOSTPREP_REMOTE_DIR,
): string {
  const words = [copy, ...files, "--", ...args].map(shellQuote);
  // `hostprep-step` is the launcher's $0, the name bash gives its own errors.
  return ["bash", "-c", `'${STEP_LAUNCHER}'`, "hostprep-step", words[0], dir, ...words.slice(1)].join(" ");
}

/**
 * The command line SSH runs for a step: the launcher and its script from the copy of hostprep/.
 * It names each file the step runs with its digest, so it changes (and the step runs again)
 * exactly when the step's script, a library it sources or an argument changes.
 */
export function remoteCommand(
  step: { script: ScriptName; args: string[]; sudo: boolean },
  copy: string,
  dir: string = HOSTPREP_REMOTE_DIR,
): string {
  return asRoot(launchCommand(stepFiles(step.script), step.args, copy, dir), step.sudo);
}

/** The command line that runs a script given on stdin (`npm run discover`'s facts.sh, before any copy). */
export function stdinCommand(step: { args: string[]; sudo: boolean }): string {
  return asRoot(bashStdinCommand(step.args), step.sudo);
}

/**
 * The SSH connection for this config, as `remote.Command` and lib/transport/ssh.ts take it: the host key
 * pinned and the bastion used when configured, the private key when given. Without a key the
 * SSH agent is used, and its socket is deliberately not named here: both the command provider
 * and the reboot waiter read SSH_AUTH_SOCK themselves, and a socket path (new with every login)
 * among the inputs would make every `pulumi up` a diff that re-runs every step.
 */
export function sshConnection<K>(ssh: SshConfig, privateKey?: K) {
  const key = privateKey === undefined ? {} : { privateKey };
  const target = (t: Omit<SshConfig, "proxy">) => ({
    host: t.host,
    port: t.port,
    user: t.user,
    ...(t.hostKey === undefined ? {} : { hostKey: t.hostKey }),
    ...key,
  });
  return { ...target(ssh), ...(ssh.proxy === undefined ? {} : { proxy: target(ssh.proxy) }) };
}
