/**
 * What ComputeHost and Controller share: a host prep step as a `remote.Command` over SSH. Not a
 * component: the command is a child of the component that calls these.
 */
import * as pulumi from "@pulumi/pulumi";
import { remote } from "@pulumi/command";
import type { HostStep } from "../../lib/desired/host-steps";
import type { SshConfig } from "../../lib/desired/step-connection";
import { remoteCommand, sshConnection } from "../../lib/desired/step-connection";
import { bundleScript } from "../../lib/hostprep/scripts";

/** The `remote.Command` of one step: its script on stdin, its arguments on the command line. */
export function stepCommand(
  name: string,
  step: HostStep,
  connection: remote.CommandArgs["connection"],
  opts: pulumi.CustomResourceOptions,
): remote.Command {
  return new remote.Command(
    `${name}-${step.id}`,
    {
      connection,
      stdin: bundleScript(step.script),
      create: remoteCommand(step),
      // A changed plan value replaces the step, which runs its script again; so does a changed
      // script or argument list (an update runs `create` again). Nothing else does.
      triggers: [step.triggers],
      // The scripts print plan values and what they changed, never a credential, and their
      // output is what an operator needs when a step fails. The only secret, the private key,
      // is in `connection`, which the provider stores as a secret and never prints.
      logging: "stdoutAndStderr",
      // The scripts decide from the host as it is, not from what the last run printed.
      addPreviousOutputInEnv: false,
    },
    opts,
  );
}

/** The connection of every step, with the private key (if any) kept secret. */
export function stepConnection(ssh: SshConfig, privateKey?: pulumi.Output<string>) {
  return sshConnection(ssh, privateKey === undefined ? undefined : pulumi.secret(privateKey));
}
