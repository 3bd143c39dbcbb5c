/**
 * What the `<host>-hostprep` CopyToRemote does, for the runs that drive the steps over SSH
 * themselves (test/e2e, test/openstack): hostprep/ of the checkout into `.openstack-rt/hostprep`
 * under the SSH user's home, where SFTP starts and where the provider copies it (a directory
 * without a trailing slash lands inside remotePath). Sent as a tar archive on stdin (base64,
 * since the SSH helper takes text), then the steps' own `create` text runs against that copy.
 */
import { execFileSync } from "node:child_process";
import { HOSTPREP_COPY_PATH, hostprepPath } from "../../lib/hostprep/scripts";
import type { SshAuth, SshOptions, SshTarget } from "../../lib/transport/ssh";
import { runSsh } from "../../lib/transport/ssh";
import { shellQuote } from "../../lib/transport/shell";

export async function shipHostprep(
  target: SshTarget,
  auth: SshAuth,
  opts: Pick<SshOptions, "retries"> = {},
): Promise<void> {
  const tar = execFileSync("tar", ["-c", "-C", hostprepPath(), "--owner=0", "--group=0", "."]);
  const dir = shellQuote(`${HOSTPREP_COPY_PATH}/hostprep`);
  // From $HOME, as the steps' launcher finds it: the login directory, or a test sshd's SetEnv HOME.
  const r = await runSsh(
    target,
    auth,
    `cd "$HOME" && mkdir -p ${dir} && base64 -d | tar -x --no-same-owner -C ${dir}`,
    {
      stdin: tar.toString("base64"),
      commandTimeoutMs: 120_000,
      ...opts,
    },
  );
  if (r.code !== 0) throw new Error(`copying hostprep/ to ${target.host} failed (exit ${r.code}): ${r.stderr.trim()}`);
}
