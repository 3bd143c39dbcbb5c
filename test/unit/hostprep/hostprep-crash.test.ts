/**
 * Host prep's crash consistency on real Debian 12 roots: a run cut between a file
 * change and the action the change needs (SSH dropped: the output pipe closes; or the process
 * killed) leaves that action recorded, and the next run completes it; a failed action's rollback
 * never truncates a file, even on a full disk; two scripts editing one nova.conf at once lose
 * neither edit.
 */
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { remoteCommand } from "../../../lib/desired/step-connection";
import { shellQuote } from "../../../lib/transport/shell";
import type { TestRoot } from "../../support/debian-root";
import type { TestSshd } from "../../support/sshd";
import { startSshd } from "../../support/sshd";
import {
  buildDebianRoot,
  buildRhelRoot,
  HOSTPREP_DIR,
  removedAfterEach,
  runScript,
  SCRATCH,
  show,
  systemPython,
} from "../../support/debian-root";
import { devHostPlans } from "../../support/dev-config";

const track = removedAfterEach();
const { debian } = devHostPlans();
const STATE = "/var/lib/openstack-rt/pending";

/**
 * A directory first on PATH with an `mv` that, after moving a file onto a path ending in
 * `pauseAfter`, waits for the test to say go: the moment right after a script replaced that file
 * and before it acts on it, held still so the test can cut the run there. A recording restart
 * command sits beside it.
 */
function harness() {
  const dir = mkdtempSync(join(SCRATCH, "hostprep-crash-"));
  const realMv = execFileSync("bash", ["-c", "command -v mv"], { encoding: "utf8" }).trim();
  writeFileSync(
    join(dir, "mv"),
    `#!/bin/sh
${realMv} "$@" || exit $?
for last; do :; done
case $last in
*"$PAUSE_AFTER")
  : >"${dir}/moved"
  while [ ! -e "${dir}/go" ]; do sleep 0.02; done
  ;;
esac
`,
    { mode: 0o755 },
  );
  const calls = join(dir, "restarts.log");
  writeFileSync(join(dir, "restart"), `#!/bin/sh\nprintf '%s\\n' "restart $*" >>"${calls}"\n`, { mode: 0o755 });
  return {
    dir,
    restartCommand: `${join(dir, "restart")} nova_compute`,
    restarts: () => (existsSync(calls) ? readFileSync(calls, "utf8").split("\n").filter(Boolean) : []),
    env: (pauseAfter: string) => ({
      ...process.env,
      PATH: `${dir}:${process.env.PATH ?? "/usr/bin:/bin"}`,
      PAUSE_AFTER: pauseAfter,
      LC_ALL: "C",
      // Its own: a killed run leaves its work directory behind.
      TMPDIR: dir,
      NOVA_COMPUTE_SH_RESTART_UNDER_ROOT: "1",
    }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
type Harness = ReturnType<typeof harness>;

async function until(what: string, ok: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Runs hostprep/<script> and cuts it right after it replaced the file ending in `pauseAfter`:
 * "pipe" closes its stdout and stderr, as a dropped SSH connection does; "kill" kills it.
 */
async function cutAfterReplace(
  h: Harness,
  script: string,
  args: string[],
  pauseAfter: string,
  how: "pipe" | "kill",
): Promise<{ code: number | null; signal: NodeJS.Signals | null; before: string }> {
  rmSync(join(h.dir, "moved"), { force: true });
  rmSync(join(h.dir, "go"), { force: true });
  const child: ChildProcess = spawn(join(HOSTPREP_DIR, script), args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: h.env(pauseAfter),
  });
  let before = "";
  child.stdout!.on("data", (d: Buffer) => (before += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (before += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  await until(`${script} to replace ${pauseAfter}`, () => existsSync(join(h.dir, "moved")) || child.exitCode !== null);
  assert.ok(existsSync(join(h.dir, "moved")), `${script} ended before replacing ${pauseAfter}:\n${before}`);
  if (how === "pipe") {
    child.stdout!.destroy();
    child.stderr!.destroy();
  } else child.kill("SIGKILL");
  writeFileSync(join(h.dir, "go"), "");
  return { ...(await exited), before };
}

function novaArgs(root: TestRoot, restartCommand: string): string[] {
  return [
    "--dedicated",
    debian.nova.cpuDedicatedSet,
    "--reserved-host-memory-mb",
    String(debian.nova.reservedHostMemoryMb),
    "--restart-command",
    restartCommand,
    "--root",
    root.dir,
  ];
}

describe("an interrupted step resumes", () => {
  const h = harness();
  after(() => h.remove());

  it("nova-compute.sh whose output pipe closes right after nova.conf is replaced still restarts nova-compute, once", async () => {
    const root = track(buildDebianRoot());
    const args = novaArgs(root, h.restartCommand);
    const cut = await cutAfterReplace(h, "nova-compute.sh", args, "/etc/nova/nova.conf", "pipe");
    assert.match(root.read("/etc/nova/nova.conf"), /^cpu_dedicated_set = 4-11$/m);
    const again = runScript("nova-compute.sh", args, { NOVA_COMPUTE_SH_RESTART_UNDER_ROOT: "1" });
    assert.equal(again.status, 0, show(again));
    // The restart happened (in the cut run, which a closed pipe no longer stops, or on the re-run)
    // and only once: the re-run finds nothing left to do.
    assert.deepEqual(h.restarts(), ["restart nova_compute"], `cut run: ${JSON.stringify(cut)}\nre-run: ${show(again)}`);
    assert.equal(again.last, "unchanged", show(again));
    assert.ok(!root.exists(`${STATE}/nova-compute`), "the pending restart is cleared once it ran");
  });

  it("nova-compute.sh killed right after nova.conf is replaced: the marker names the restart, the next run does it first", async () => {
    const root = track(buildDebianRoot());
    const args = novaArgs(root, h.restartCommand.replace("nova_compute", "killed_run"));
    const cut = await cutAfterReplace(h, "nova-compute.sh", args, "/etc/nova/nova.conf", "kill");
    assert.equal(cut.signal, "SIGKILL");
    assert.deepEqual(
      h.restarts().filter((l) => l.includes("killed_run")),
      [],
    );
    assert.match(root.read(`${STATE}/nova-compute`), /restart\tkilled_run/);
    // The time the host check compares nova-compute's start with.
    assert.ok(root.exists("/var/lib/openstack-rt/nova-compute.settings-changed"));
    const again = runScript("nova-compute.sh", args, { NOVA_COMPUTE_SH_RESTART_UNDER_ROOT: "1" });
    assert.equal(again.status, 0, show(again));
    assert.deepEqual(
      h.restarts().filter((l) => l.includes("killed_run")),
      ["restart killed_run"],
    );
    assert.match(again.stdout, /a previous run changed files and ended before running: .*restart killed_run/);
    assert.equal(again.last, "changed");
    assert.ok(!root.exists(`${STATE}/nova-compute`));
    const third = runScript("nova-compute.sh", args, { NOVA_COMPUTE_SH_RESTART_UNDER_ROOT: "1" });
    assert.equal(third.last, "unchanged", show(third));
    assert.equal(h.restarts().filter((l) => l.includes("killed_run")).length, 1);
  });

  it("tuned.sh killed right after the variables file is written: the next run activates the profile", async () => {
    const root = track(buildDebianRoot());
    root.write("/etc/tuned/active_profile", "realtime-virtual-host\n");
    const args = [
      "--profile",
      "realtime-virtual-host",
      "--isolated-cores",
      debian.tuned.isolatedCores,
      "--root",
      root.dir,
    ];
    const cut = await cutAfterReplace(h, "tuned.sh", args, "/etc/tuned/realtime-virtual-host-variables.conf", "kill");
    assert.equal(cut.signal, "SIGKILL");
    assert.match(root.read("/etc/tuned/realtime-virtual-host-variables.conf"), /^isolated_cores=4-11$/m);
    const again = runScript("tuned.sh", args);
    assert.equal(again.status, 0, show(again));
    assert.match(again.stdout, /^skipped \(--root [^)]*\): tuned-adm profile realtime-virtual-host$/m, show(again));
    assert.equal(again.last, "changed");
    const third = runScript("tuned.sh", args);
    assert.equal(third.last, "unchanged", show(third));
  });

  it("tuned.sh --stalld off cut around stopping stalld: the next run applies the profile again first", async () => {
    const root = track(buildRhelRoot());
    root.write("/etc/tuned/active_profile", "realtime-virtual-host\n");
    root.write("/etc/tuned/realtime-virtual-host-variables.conf", `isolated_cores=${debian.tuned.isolatedCores}\n`);
    root.write("/etc/sysconfig/stalld", "CLIST=\n");
    root.write("/usr/lib/systemd/system/stalld.service", "[Unit]\nDescription=Stall Monitor\n");
    const wants = "/etc/systemd/system/multi-user.target.wants/stalld.service";
    mkdirSync(root.path("/etc/systemd/system/multi-user.target.wants"), { recursive: true });
    symlinkSync("/usr/lib/systemd/system/stalld.service", root.path(wants));
    const args = [
      "--profile",
      "realtime-virtual-host",
      "--isolated-cores",
      debian.tuned.isolatedCores,
      "--stalld",
      "off",
      "--root",
      root.dir,
    ];
    // Nothing else changes, so the first marker written is the one recorded before the stop.
    const cut = await cutAfterReplace(h, "tuned.sh", args, `${STATE}/tuned`, "kill");
    assert.equal(cut.signal, "SIGKILL");
    // As if the stop had run before the cut: stalld disabled, its unit's throttling value left.
    rmSync(root.path(wants));
    const again = runScript("tuned.sh", args);
    assert.equal(again.status, 0, show(again));
    assert.match(again.stdout, /^skipped \(--root [^)]*\): tuned-adm profile realtime-virtual-host$/m, show(again));
    assert.ok(!root.exists(`${STATE}/tuned`));
    const third = runScript("tuned.sh", args);
    assert.equal(third.last, "unchanged", show(third));
  });

  it("kernel-args.sh killed right after /etc/default/grub is written: the next run runs update-grub", async () => {
    const root = track(buildDebianRoot());
    const args = ["--os", "debian-12", "--args", "hugepagesz=1G hugepages=8 default_hugepagesz=1G", "--root", root.dir];
    const cut = await cutAfterReplace(h, "kernel-args.sh", args, "/etc/default/grub", "kill");
    assert.equal(cut.signal, "SIGKILL");
    assert.match(root.read("/etc/default/grub"), /hugepagesz=1G hugepages=8/);
    const again = runScript("kernel-args.sh", args);
    assert.equal(again.status, 0, show(again));
    assert.match(again.stdout, /^skipped \(--root [^)]*\): update-grub$/m, show(again));
    const third = runScript("kernel-args.sh", args);
    assert.doesNotMatch(third.stdout, /update-grub/, show(third));
    assert.equal(third.last, "unchanged", show(third));
  });
});

describe("a pending marker", () => {
  it("runs first and goes; one whose action fails again stays; one that is not an action of the script is refused, naming it", () => {
    const root = track(buildDebianRoot());
    const args = ["--profile", "realtime-virtual-host", "--isolated-cores", "4-11", "--root", root.dir];
    const marker = `${STATE}/tuned`;
    // Under --root the recorded command is only logged, so a failing one is a script that fails.
    root.write(marker, "tuned-adm\tprofile\trealtime-virtual-host\n");
    const ok = runScript("tuned.sh", args);
    assert.equal(ok.status, 0, show(ok));
    assert.match(
      ok.stdout,
      /^a previous run changed files and ended before running: tuned-adm profile realtime-virtual-host$/m,
    );
    assert.ok(!root.exists(marker));

    const novaMarker = `${STATE}/nova-compute`;
    root.write(novaMarker, "/bin/false\tnova_compute\n");
    const failing = runScript(
      "nova-compute.sh",
      ["--dedicated", "4-11", "--reserved-host-memory-mb", "4096", "--root", root.dir],
      {
        NOVA_COMPUTE_SH_RESTART_UNDER_ROOT: "1",
      },
    );
    assert.equal(failing.status, 1, show(failing));
    assert.match(
      failing.stderr,
      /'\/bin\/false nova_compute' failed with exit status 1; nova-compute still runs with the old settings/,
    );
    assert.equal(root.read(novaMarker), "/bin/false\tnova_compute\n", "a pending action that failed stays pending");
    assert.doesNotMatch(
      root.read("/etc/nova/nova.conf"),
      /^cpu_dedicated_set/m,
      "nothing is changed before it is done",
    );

    root.write(marker, "systemctl\trestart\ttuned.service; rm -rf /\n");
    const bad = runScript("tuned.sh", args);
    assert.equal(bad.status, 1, show(bad));
    assert.match(
      bad.stderr,
      /pending\/tuned holds .*, which is not an action of this script; do by hand what the previous run left undone, then remove /,
    );
    assert.ok(root.exists(marker), "a marker it refuses stays for the operator");
    assert.deepEqual(bad.tripped, []);
  });
});

describe("over SSH: the connection drops right after nova.conf is replaced", () => {
  const h = harness();
  let sshd: TestSshd;
  before(async () => {
    sshd = await startSshd();
  });
  after(async () => {
    await sshd.stop();
    h.remove();
  });

  it("the remote run still restarts nova-compute, and the next run over SSH has nothing left to do", async () => {
    const root = track(buildDebianRoot());
    const args = novaArgs(root, h.restartCommand.replace("nova_compute", "over_ssh"));
    const key = join(h.dir, "id");
    writeFileSync(key, sshd.userKey, { mode: 0o600 });
    // The step's own command line, its script run from the checkout's hostprep/ (as from the
    // host's copy); the environment puts the pausing mv first on PATH and lets the test's
    // restart command run under --root.
    const env = h.env("/etc/nova/nova.conf");
    const remote = `env PATH=${h.dir}:/usr/bin:/bin PAUSE_AFTER=/etc/nova/nova.conf TMPDIR=${h.dir} NOVA_COMPUTE_SH_RESTART_UNDER_ROOT=1 ${remoteCommand({ script: "nova-compute.sh", args, sudo: false }, "test-hostprep", shellQuote(HOSTPREP_DIR))}`;
    const knownHosts = join(h.dir, "known_hosts");
    writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${sshd.hostKeyPub}\n`);
    const ssh = () => {
      const child = spawn(
        "ssh",
        [
          ...["-i", key, "-p", String(sshd.port), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"],
          ...["-o", `UserKnownHostsFile=${knownHosts}`, "-o", "LogLevel=ERROR", `${sshd.user}@127.0.0.1`, remote],
        ],
        { stdio: ["pipe", "pipe", "pipe"], env },
      );
      child.stdin.end();
      return child;
    };
    const restarts = () => h.restarts().filter((l) => l.includes("over_ssh"));
    rmSync(join(h.dir, "moved"), { force: true });
    rmSync(join(h.dir, "go"), { force: true });
    const first = ssh();
    await until("the remote run to replace nova.conf", () => existsSync(join(h.dir, "moved")));
    // The connection drops: the client dies, sshd closes the session's pipes.
    first.kill("SIGKILL");
    await new Promise((r) => first.once("exit", r));
    writeFileSync(join(h.dir, "go"), "");
    await until("the remote run to restart nova-compute", () => restarts().length > 0, 20_000);
    assert.deepEqual(restarts(), ["restart over_ssh"]);

    const again = ssh();
    let out = "";
    again.stdout.on("data", (d: Buffer) => (out += d.toString()));
    again.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise((r) => again.once("exit", r));
    assert.equal(code, 0, out);
    assert.match(out, /^unchanged$/m, out);
    assert.deepEqual(restarts(), ["restart over_ssh"]);
  });
});

describe("rollback never truncates", () => {
  const h = harness();
  after(() => h.remove());

  it("a restart that fills the disk and fails: nova.conf stays whole, the message names the backup and how to put it back", () => {
    const root = track(buildDebianRoot());
    // The step shrinks this file (it removes the long vcpu_pin_set entry), so putting the old,
    // larger file back needs more room than removing the new one frees.
    const long = Array.from({ length: 400 }, (_, i) => `    ${i},`).join("\n");
    const original = `${root.read("/etc/nova/nova.conf")}\n[DEFAULT]\nvcpu_pin_set = 4-11,\n${long}\n`;
    const etcNova = root.path("/etc/nova");
    rmSync(etcNova, { recursive: true });
    mkdirSync(etcNova);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1000k", "tmpfs", etcNova]);
    try {
      fillThenFail(root, etcNova, original);
    } finally {
      execFileSync("umount", [etcNova]);
    }
  });

  function fillThenFail(root: TestRoot, etcNova: string, original: string) {
    writeFileSync(join(etcNova, "nova.conf"), original);
    const fill = join(h.dir, "fill-and-fail");
    writeFileSync(fill, `#!/bin/sh\ncat /dev/zero >"${etcNova}/filler" 2>/dev/null\nexit 1\n`, { mode: 0o755 });
    const r = runScript(
      "nova-compute.sh",
      ["--dedicated", "4-11", "--reserved-host-memory-mb", "4096", "--restart-command", fill, "--root", root.dir],
      { NOVA_COMPUTE_SH_RESTART_UNDER_ROOT: "1" },
    );
    assert.equal(r.status, 1, show(r));
    const now = readFileSync(join(etcNova, "nova.conf"), "utf8");
    // Whole: either the file as it was, or the new one complete, never a cut-off copy.
    const planned = /^cpu_dedicated_set = 4-11$/m.test(now) && !/^vcpu_pin_set/m.test(now) && now.endsWith("\n");
    assert.ok(
      now === original || planned,
      `nova.conf is neither the original nor the new file whole (${now.length} bytes)`,
    );
    if (now !== original) {
      const m = /the copy from before this run is (\S+); put it back with: (cp .+)$/im.exec(r.stderr);
      assert.ok(m, show(r));
      assert.equal(readFileSync(m[1], "utf8"), original);
      rmSync(join(etcNova, "filler"));
      execFileSync("bash", ["-c", m[2]]);
      assert.equal(readFileSync(join(etcNova, "nova.conf"), "utf8"), original);
      rmSync(m[1].replace(/\/backup\/[^/]+$/, ""), { recursive: true, force: true });
    }
    assert.deepEqual(
      execFileSync("find", [etcNova, "-name", "*.hostprep*"], { encoding: "utf8" }),
      "",
      "no temporary file is left",
    );
  }
});

describe("concurrent edits of one nova.conf", () => {
  it("nova-compute.sh and scheduler.sh at the same time on an all-in-one host: both edits stay", async () => {
    const root = track(buildDebianRoot());
    const run = (script: string, args: string[]) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const c = spawn(join(HOSTPREP_DIR, script), [...args, "--root", root.dir], {
          stdio: ["ignore", "pipe", "pipe"],
          env: { ...process.env, LC_ALL: "C", TMPDIR: SCRATCH },
        });
        let out = "";
        c.stdout.on("data", (d: Buffer) => (out += d.toString()));
        c.stderr.on("data", (d: Buffer) => (out += d.toString()));
        c.once("exit", (code) => resolve({ code, out }));
      });
    const [compute, scheduler] = await Promise.all([
      run("nova-compute.sh", ["--dedicated", "4-11", "--reserved-host-memory-mb", "4096"]),
      run("scheduler.sh", []),
    ]);
    assert.equal(compute.code, 0, compute.out);
    assert.equal(scheduler.code, 0, scheduler.out);
    const read = JSON.parse(
      systemPython(
        `
import json, sys
import nova.conf
CONF = nova.conf.CONF
CONF(['--config-file', sys.argv[1]], project='nova', default_config_files=[], default_config_dirs=[])
print(json.dumps({'dedicated': CONF.compute.cpu_dedicated_set, 'filters': CONF.filter_scheduler.enabled_filters}))`,
        [root.path("/etc/nova/nova.conf")],
      ),
    ) as { dedicated: string | null; filters: string[] };
    assert.equal(read.dedicated, "4-11", "nova-compute.sh's edit was lost");
    assert.ok(read.filters.includes("NUMATopologyFilter"), "scheduler.sh's edit was lost");
  });
});
