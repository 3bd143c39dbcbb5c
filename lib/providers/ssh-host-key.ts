/**
 * The provider of GuestHostKey: an ed25519 SSH host key made once, when the resource is created,
 * and kept in state (the private half as a secret output). cloud-init installs it as the guest's
 * host key, so the deployer pins the guest from its first SSH connection on. Made at deploy time,
 * not in the program: a preview stays free of random values.
 */
import type * as pulumi from "@pulumi/pulumi";
import { generateEd25519HostKey } from "../transport/host-key";
import { nonEmptyString } from "./inputs";

export interface SshHostKeyInputs {
  /** The key's comment, naming the server: `openstack-rt rt-server`. */
  comment: string;
}

export interface SshHostKeyState extends SshHostKeyInputs {
  /** `ssh-ed25519 AAAA... <comment>` */
  publicKey: string;
  /** OpenSSH's own format, as sshd and cloud-init's ssh_keys take it. */
  privateKey: string;
}

export const sshHostKeyProvider: pulumi.dynamic.ResourceProvider<SshHostKeyInputs, SshHostKeyState> = {
  check: (_olds, news) => {
    const failures = nonEmptyString(news.comment, "comment", "must name the server the key is for");
    return Promise.resolve(failures.length > 0 ? { inputs: news, failures } : { inputs: news });
  },
  // A new comment is a new server: a new key. Nothing else is an input.
  diff: (_id, olds, news) =>
    Promise.resolve(olds.comment === news.comment ? { changes: false } : { changes: true, replaces: ["comment"] }),
  create: (inputs) => {
    const { publicKey, privateKey } = generateEd25519HostKey(inputs.comment);
    return Promise.resolve({
      id: publicKey.split(" ")[1],
      outs: { comment: inputs.comment, publicKey, privateKey },
    });
  },
};
