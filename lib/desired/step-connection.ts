/** How a host prep step reaches its host: the SSH connection and the command line SSH runs. */
import type { HostConfig } from "../config/schema";
import { bashStdinCommand } from "../transport/shell";

export type SshConfig = HostConfig["ssh"];

/** The command line SSH runs for a step; the script itself comes on stdin (`bundleScript`). */
export function remoteCommand(step: { args: string[]; sudo: boolean }): string {
  const command = bashStdinCommand(step.args);
  // -n: fail at once when sudo would ask for a password (there is no terminal to ask on).
  return step.sudo ? `sudo -n ${command}` : command;
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
