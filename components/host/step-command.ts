/**
 * What ComputeHost and Controller share: the copy of hostprep/ to a host and each host prep step
 * as a `remote.Command` over SSH that runs its script from that copy. Not a component: these
 * resources are children of the component that calls these.
 */
import * as pulumi from "@pulumi/pulumi";
import { remote } from "@pulumi/command";
import type { HostStep } from "../../lib/desired/host-steps";
import type { SshConfig } from "../../lib/desired/step-connection";
import { hostprepCopyName, remoteCommand, sshConnection } from "../../lib/desired/step-connection";
import { HOSTPREP_COPY_PATH } from "../../lib/hostprep/scripts";

/**
 * `${name}-hostprep`: hostprep/ copied over SFTP into `~/.openstack-rt/hostprep` of the SSH user.
 * Its inputs are the relative path `hostprep` (resolved against the project directory, by the
 * engine for the hash and by the provider for the copy) and the archive's hash, never the files:
 * the state stays O(hosts). A changed file changes the hash and the provider copies again; a
 * changed SSH target or user (another home) replaces the resource, which copies again too.
 */
export function hostprepCopy(
  name: string,
  ssh: SshConfig,
  connection: remote.CopyToRemoteArgs["connection"],
  opts: pulumi.CustomResourceOptions,
): remote.CopyToRemote {
  return new remote.CopyToRemote(
    hostprepCopyName(name),
    {
      connection,
      source: new pulumi.asset.FileArchive("hostprep"),
      remotePath: HOSTPREP_COPY_PATH,
      triggers: [ssh.host, ssh.port, ssh.user],
    },
    opts,
  );
}

/**
 * The `remote.Command` of one step: its script from the host's copy of hostprep/ (`copy`, which
 * it waits for), the files' digests and the arguments on the command line.
 */
export function stepCommand(
  name: string,
  step: HostStep,
  connection: remote.CommandArgs["connection"],
  copy: remote.CopyToRemote,
  opts: { parent: pulumi.Resource; dependsOn?: pulumi.Resource[] },
): remote.Command {
  return new remote.Command(
    `${name}-${step.id}`,
    {
      connection,
      create: remoteCommand(step, hostprepCopyName(name)),
      // A changed plan value replaces the step, which runs its script again; so does a changed
      // script, library or argument (all in `create`: an update runs `create` again). Nothing else does.
      triggers: [step.triggers],
      // The scripts print plan values and what they changed, never a credential, and their
      // output is what an operator needs when a step fails. The only secret, the private key,
      // is in `connection`, which the provider stores as a secret and never prints.
      logging: "stdoutAndStderr",
      // The scripts decide from the host as it is, not from what the last run printed.
      addPreviousOutputInEnv: false,
    },
    { parent: opts.parent, dependsOn: [copy, ...(opts.dependsOn ?? [])] },
  );
}

/** The connection of every step, with the private key (if any) kept secret. */
export function stepConnection(ssh: SshConfig, privateKey?: pulumi.Output<string>) {
  return sshConnection(ssh, privateKey === undefined ? undefined : pulumi.secret(privateKey));
}
