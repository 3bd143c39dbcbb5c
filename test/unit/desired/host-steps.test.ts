/**
 * lib/desired/host-steps.ts: the ordered steps derived from the plan, what re-runs them, the command
 * line SSH runs (checking the host's copy of hostprep/, then running the script from it), and the
 * steps run for real with bash from such a copy against the Debian test root; the bundled scripts
 * `npm run discover` sends.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { HostConfig } from "../../../lib/config/schema";
import type { HostStep } from "../../../lib/desired/host-steps";
import { controllerSteps, hostSteps } from "../../../lib/desired/host-steps";
import { HostStepError } from "../../../lib/desired/step-args";
import { STEP_LAUNCHER, remoteCommand } from "../../../lib/desired/step-connection";
import type { ScriptName } from "../../../lib/hostprep/scripts";
import { SCRIPT_NAMES, bundleScript, stepFiles } from "../../../lib/hostprep/scripts";
import { shellQuote } from "../../../lib/transport/shell";
import { HOSTPREP_DIR } from "../../support/debian-root";
import { planStack } from "../../../lib/plan/stack";
import type { HostPlan } from "../../../lib/plan/host";
import type { ScriptResult, TestRoot } from "../../support/debian-root";
import {
  FIXTURES_DIR,
  RT_KERNEL,
  RT_VERSION,
  buildDebianRoot,
  runShipped,
  runScript,
  show,
  snapshotDiff,
  writeDpkgStatus,
} from "../../support/debian-root";
import { PROJECT_DIR, devRaw } from "../../support/dev-config";

type Raw = ReturnType<typeof devRaw>;

/** The dev stack (optionally changed) planned: each planned host with its config. */
function planned(change: (raw: Raw) => void = () => {}): { plan: HostPlan; host: HostConfig }[] {
  const raw = devRaw();
  change(raw);
  const r = planStack(raw);
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join("\n"));
  return r.plan.hosts.map((plan) => ({ plan, host: r.config.hosts.find((h) => h.name === plan.name)! }));
}

const stepsOf = (change?: (raw: Raw) => void) => planned(change).map(({ plan, host }) => hostSteps(plan, host));
const [DEBIAN, RHEL] = planned();
const ARGS = "default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4";

/** Per host, the ids of the steps whose command or triggers differ between two step lists. */
function changedSteps(a: HostStep[][], b: HostStep[][]): string[][] {
  return a.map((steps, i) => steps.filter((s, j) => JSON.stringify(s) !== JSON.stringify(b[i][j])).map((s) => s.id));
}

describe("hostSteps", () => {
  it("prepares the dev stack's Debian host in plan order, with the plan's values as arguments", () => {
    const steps = hostSteps(DEBIAN.plan, DEBIAN.host);
    assert.deepEqual(
      steps.map((s) => [s.id, s.script, s.args]),
      [
        ["facts", "facts.sh", []],
        ["packages", "packages.sh", ["--os", "debian-12"]],
        ["tuned", "tuned.sh", ["--profile", "realtime-virtual-host", "--isolated-cores", "4-11", "--stalld", "off"]],
        ["kernel-args", "kernel-args.sh", ["--os", "debian-12", "--args", ARGS]],
        ["nova-compute", "nova-compute.sh", ["--dedicated", "4-11", "--reserved-host-memory-mb", "4096"]],
        ["reboot", "reboot.sh", ["--args", ARGS, "--expect-rt", "yes"]],
      ],
    );
    assert.ok(
      steps.every((s) => !s.sudo),
      "the dev hosts log in as root",
    );
  });

  it("reserves the RHEL 9 host's pages with the boot unit (kernel 5.14 takes no per-node counts)", () => {
    const steps = new Map(hostSteps(RHEL.plan, RHEL.host).map((s) => [s.id, s.args]));
    assert.deepEqual(steps.get("kernel-args"), [
      "--os",
      "rhel-9",
      "--args",
      "default_hugepagesz=1G hugepagesz=1G",
      "--hugepages-unit",
      "0:4:1G,1:4:1G",
    ]);
    assert.deepEqual(steps.get("reboot"), [
      "--args",
      "default_hugepagesz=1G hugepagesz=1G",
      "--hugepages-unit",
      "0:4:1G,1:4:1G",
      "--expect-rt",
      "yes",
    ]);
  });

  it("adds 2 MiB pages beside 1 GiB ones: a second hugepagesz/hugepages pair, or boot-unit entries, and their hugetlbfs mount", () => {
    const [debian, rhel] = stepsOf((raw) =>
      raw.hosts.forEach((h) => Object.assign(h, { hugepages2mPerNode: [512, 256], reservedHugepages2mPerNode: 64 })),
    ).map((steps) => new Map(steps.map((s) => [s.id, s.args])));
    const both = `${ARGS} hugepagesz=2M hugepages=0:512,1:256`;
    assert.deepEqual(debian.get("kernel-args"), ["--os", "debian-12", "--args", both, "--hugetlbfs-mount", "2M"]);
    assert.deepEqual(debian.get("reboot"), ["--args", both, "--hugetlbfs-mount", "2M", "--expect-rt", "yes"]);
    assert.deepEqual(rhel.get("kernel-args"), [
      "--os",
      "rhel-9",
      "--args",
      "default_hugepagesz=1G hugepagesz=1G hugepagesz=2M",
      "--hugepages-unit",
      "0:4:1G,1:4:1G,0:512:2M,1:256:2M",
      "--hugetlbfs-mount",
      "2M",
    ]);
    assert.deepEqual(debian.get("nova-compute")!.slice(-2), [
      "--reserved-huge-pages",
      "node:0,size:2MB,count:64;node:1,size:2MB,count:64",
    ]);
  });

  it("passes the optional nova-compute settings only when the plan has them", () => {
    const [debian] = stepsOf((raw) =>
      Object.assign(raw.hosts[0], { cpuSharedSet: "housekeeping", reservedHugepages1gPerNode: 1 }),
    );
    assert.deepEqual(debian.find((s) => s.id === "nova-compute")!.args, [
      "--dedicated",
      "4-11",
      "--shared",
      "0-3",
      "--reserved-host-memory-mb",
      "4096",
      "--reserved-huge-pages",
      "node:0,size:1GB,count:1;node:1,size:1GB,count:1",
    ]);
  });

  describe("triggers: a change re-runs only the steps it affects", () => {
    const base = stepsOf();

    it("a flavor-only change changes no step", () => {
      const after = stepsOf((raw) => {
        raw.flavors[0].ramMb = 2048;
        raw.flavors[0].realtime = { housekeepingVcpus: 1 };
        raw.flavors.push({ name: "rt1.tiny", vcpus: 2, ramMb: 1024 });
      });
      assert.deepEqual(after, base);
    });

    it("other isolated cores re-run TuneD, nova-compute and the reboot, not the packages or kernel-args.sh", () => {
      const after = stepsOf((raw) => raw.hosts.forEach((h) => (h.housekeepingCpusPerNode = 1)));
      const tuned = after[0].find((s) => s.id === "tuned")!.args;
      assert.deepEqual(tuned[tuned.indexOf("--isolated-cores") + 1], "2-11");
      assert.deepEqual(changedSteps(base, after), [
        ["tuned", "nova-compute", "reboot"],
        ["tuned", "nova-compute", "reboot"],
      ]);
    });

    it("other hugepage counts re-run kernel-args.sh and the reboot only", () => {
      const after = stepsOf((raw) => (raw.hosts[1].hugepages1gPerNode = 2));
      assert.deepEqual(changedSteps(base, after), [[], ["kernel-args", "reboot"]]);
    });

    it("nova-compute's own settings re-run nova-compute only", () => {
      const after = stepsOf((raw) => {
        raw.hosts[0].reservedHostMemoryMb = 8192;
        raw.hosts[1].cpuSharedSet = "housekeeping";
      });
      assert.deepEqual(changedSteps(base, after), [["nova-compute"], ["nova-compute"]]);
    });
  });

  it("refuses plan values the scripts would refuse, naming the host and the value", () => {
    const bad: [string, (p: HostPlan) => void, RegExp][] = [
      [
        "isolated cores",
        (p) => (p.tuned.isolatedCores = "4-11;reboot"),
        /compute-rt-01: tuned.isolatedCores is "4-11;reboot"/,
      ],
      ["a CPU list with a space", (p) => (p.nova.cpuSharedSet = "0-3 "), /nova.cpuSharedSet is "0-3 "/],
      ["a descending range", (p) => (p.nova.cpuDedicatedSet = "11-4"), /nova.cpuDedicatedSet/],
      [
        "shell in a kernel argument",
        (p) => (p.kernel.args = ["quiet", "$(reboot)"]),
        /kernel argument is "\$\(reboot\)"/,
      ],
      ["a kernel argument twice", (p) => (p.kernel.args = ["quiet", "nosmt", "quiet"]), /quiet appears twice/],
      [
        "one page size twice (hugepagesz/hugepages pairs may repeat, a size may not)",
        (p) => (p.kernel.args = ["hugepagesz=1G", "hugepages=0:1", "hugepagesz=1G", "hugepages=0:2"]),
        /hugepagesz=1G appears twice/,
      ],
      [
        "a newline in reserved pages",
        (p) => (p.nova.reservedHugePages = ["node:0,size:1GB,count:1\nnode:1"]),
        /nova.reservedHugePages/,
      ],
      ["a negative memory reservation", (p) => (p.nova.reservedHostMemoryMb = -1), /nova.reservedHostMemoryMb is -1/],
    ];
    for (const [what, mutate, message] of bad) {
      const plan = structuredClone(DEBIAN.plan);
      mutate(plan);
      assert.throws(
        () => hostSteps(plan, DEBIAN.host),
        (e: unknown) => e instanceof HostStepError && message.test(e.message),
        what,
      );
    }
    assert.throws(() => hostSteps(DEBIAN.plan, RHEL.host), /the host config's name is "compute-rt-02"/);
  });

  it("the controller's step adds the scheduler filters; a non-root login goes through sudo", () => {
    const ssh = { host: "192.0.2.5", user: "root", port: 22 };
    assert.deepEqual(controllerSteps({ ssh }), [
      { id: "scheduler", script: "scheduler.sh", args: [], triggers: {}, sudo: false },
    ]);
    assert.equal(controllerSteps({ ssh: { ...ssh, user: "stack" } })[0].sudo, true);
  });
});

describe("remoteCommand", () => {
  const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
  const scratch: string[] = [];
  after(() => scratch.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const tmp = (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    scratch.push(d);
    return d;
  };
  /** A scratch copy of hostprep/, as the CopyToRemote leaves it on a host. */
  function scratchCopy(): string {
    const dir = join(tmp("hostprep-copy-"), "hostprep");
    cpSync(HOSTPREP_DIR, dir, { recursive: true });
    return dir;
  }
  /** PATH with a `bash` first that runs `bash -c` (the launcher) for real and prints any other call's words. */
  function fakeBashPath(): string {
    const bin = tmp("hostprep-bin-");
    const real = execFileSync("bash", ["-c", "type -P bash"], { encoding: "utf8" }).trim();
    writeFileSync(
      join(bin, "bash"),
      `#!/bin/sh\nif [ "$1" = -c ]; then exec ${real} "$@"; fi\nfor a in "$@"; do printf '%s\\0' "$a"; done\n`,
      { mode: 0o755 },
    );
    return `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`;
  }
  const run = (command: string, env: NodeJS.ProcessEnv = {}) =>
    spawnSync("bash", ["-c", command], { encoding: "utf8", env: { ...process.env, ...env } });

  it("names the copy, each file the step runs with its sha256, and the arguments, one shell word each", () => {
    const steps = new Map(hostSteps(DEBIAN.plan, DEBIAN.host).map((s) => [s.id, s]));
    const files = (...names: string[]) => names.map((n) => `${n}=${sha(join(HOSTPREP_DIR, n))}`).join(" ");
    const launcher = `bash -c '${STEP_LAUNCHER}' hostprep-step h1-hostprep "$HOME"/.openstack-rt/hostprep`;
    assert.equal(
      remoteCommand(steps.get("tuned")!, "h1-hostprep"),
      `${launcher} ${files("tuned.sh", "common.sh")} -- --profile realtime-virtual-host --isolated-cores 4-11 --stalld off`,
    );
    const nova = steps.get("nova-compute")!;
    assert.equal(
      remoteCommand(nova, "h1-hostprep"),
      `${launcher} ${files("nova-compute.sh", "common.sh", "ini.sh")} -- ${nova.args.map(shellQuote).join(" ")}`,
    );
    assert.equal(
      remoteCommand(steps.get("reboot")!, "h1-hostprep"),
      `${launcher} ${files("reboot.sh", "common.sh")} -- --args '${ARGS}' --expect-rt yes`,
    );
    assert.equal(
      remoteCommand({ ...steps.get("facts")!, sudo: true }, "h1-hostprep"),
      `sudo -n ${launcher} ${files("facts.sh", "common.sh")} --`,
    );
  });

  it("changes exactly when the step's script or a library it sources changes, not with another file", () => {
    const all = (dir: string) => new Map(SCRIPT_NAMES.map((s) => [s, stepFiles(s, dir).join(" ")]));
    const base = all(scratchCopy());
    const changed = (file: string) => {
      const dir = scratchCopy();
      writeFileSync(join(dir, file), `${readFileSync(join(dir, file), "utf8")}# edited\n`);
      const now = all(dir);
      return SCRIPT_NAMES.filter((s) => now.get(s) !== base.get(s));
    };
    assert.deepEqual(changed("tuned.sh"), ["tuned.sh"]);
    assert.deepEqual(changed("ini.sh"), ["nova-compute.sh", "scheduler.sh"]);
    assert.deepEqual(changed("common.sh"), [...SCRIPT_NAMES]);
    assert.deepEqual(changed("verify/host-facts.sh"), []);
  });

  it("hands the script from the copy every step's arguments exactly, through a login shell as sshd runs it", () => {
    const dir = scratchCopy();
    const PATH = fakeBashPath();
    for (const { plan, host } of [DEBIAN, RHEL]) {
      for (const step of hostSteps(plan, host)) {
        const r = run(remoteCommand(step, "h-hostprep", shellQuote(dir)), { PATH });
        assert.equal(r.status, 0, `${plan.name} ${step.id}: ${r.stderr}`);
        assert.deepEqual(
          r.stdout.slice(0, -1).split("\0"),
          [`${dir}/${step.script}`, ...step.args],
          `${plan.name} ${step.id}`,
        );
      }
    }
  });

  it("runs nothing from a copy that differs or lacks a file, and says which file, both digests and the fix", () => {
    const PATH = fakeBashPath();
    const step = hostSteps(DEBIAN.plan, DEBIAN.host).find((s) => s.id === "nova-compute")!;
    const edited = scratchCopy();
    writeFileSync(join(edited, "common.sh"), "# cut short\n");
    const r = run(remoteCommand(step, "compute-rt-01-hostprep", shellQuote(edited)), { PATH });
    assert.equal(r.status, 3);
    assert.equal(r.stdout, "", "the script did not run");
    assert.equal(
      r.stderr,
      `openstack-rt: ${edited}/common.sh is not the file this step runs (expected sha256 ${sha(join(HOSTPREP_DIR, "common.sh"))}, ` +
        `found sha256 ${sha(join(edited, "common.sh"))}): the copy of hostprep/ to this host (resource compute-rt-01-hostprep) ` +
        "did not complete. Run pulumi up again; if it stays so, pulumi up --replace the URN of compute-rt-01-hostprep (pulumi stack --show-urns).\n",
    );
    const lacking = scratchCopy();
    rmSync(join(lacking, "ini.sh"));
    const missing = run(remoteCommand(step, "compute-rt-01-hostprep", shellQuote(lacking)), { PATH });
    assert.equal(missing.status, 3);
    assert.equal(missing.stdout, "");
    assert.match(
      missing.stderr,
      /\/ini\.sh is not the file this step runs \(expected sha256 [0-9a-f]{64}, found no such file\)/,
    );
    const none = run(remoteCommand(step, "compute-rt-01-hostprep", shellQuote("/nonexistent/hostprep")), { PATH });
    assert.equal(none.status, 3);
    assert.match(
      none.stderr,
      /^openstack-rt: \/nonexistent\/hostprep\/nova-compute\.sh is not the file .* found no such file\)/,
    );
  });

  it("the launcher is shellcheck-clean", () => {
    const r = spawnSync("shellcheck", ["--shell=bash", "-"], { input: STEP_LAUNCHER, encoding: "utf8" });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  });

  it("refuses arguments with a newline or NUL", () => {
    const step = hostSteps(DEBIAN.plan, DEBIAN.host)[0];
    assert.throws(() => remoteCommand({ ...step, args: ["--root", "/tmp\nreboot"] }, "h-hostprep"), /newline/);
    assert.throws(() => remoteCommand({ ...step, args: ["a\0b"] }, "h-hostprep"), /NUL/);
  });
});

const SCRIPTS: readonly ScriptName[] = SCRIPT_NAMES;
const GRUB_CFG = readFileSync(join(FIXTURES_DIR, "debian-12-rt", "grub.cfg"), "utf8");

describe("bundleScript", () => {
  it("is self-contained: the libraries' text in place of the source lines, nothing left to source", () => {
    const common = readFileSync(join(HOSTPREP_DIR, "common.sh"), "utf8");
    const ini = readFileSync(join(HOSTPREP_DIR, "ini.sh"), "utf8");
    const body = (lib: string) => lib.replace(/^# shellcheck shell=bash\n/, "");
    for (const s of SCRIPTS) {
      const bundle = bundleScript(s);
      assert.doesNotMatch(bundle, /BASH_SOURCE|^\s*(\.|source)\s/m, s);
      assert.equal(bundle.split(body(common)).length, 2, `${s} holds common.sh once`);
      assert.equal(
        bundle.split(body(ini)).length,
        ["nova-compute.sh", "scheduler.sh"].includes(s) ? 2 : 1,
        `${s} and ini.sh`,
      );
      assert.ok(
        bundle.endsWith('\nmain "$@"\n'),
        `${s}: main runs last, when bash has read the whole script from stdin`,
      );
    }
  });

  it("gives the same bytes in another process (no diff on an unchanged checkout)", () => {
    const digest = (text: string) => createHash("sha256").update(text).digest("hex");
    const code = `const { bundleScript } = require("./lib/hostprep/scripts"); for (const s of ${JSON.stringify(SCRIPTS)}) console.log(require("node:crypto").createHash("sha256").update(bundleScript(s)).digest("hex"));`;
    const other = execFileSync(process.execPath, ["--import", "tsx", "-e", code], {
      cwd: PROJECT_DIR,
      encoding: "utf8",
    })
      .trim()
      .split("\n");
    assert.deepEqual(
      other,
      SCRIPTS.map((s) => digest(bundleScript(s))),
    );
  });

  it("is shellcheck-clean as the one file a host receives", () => {
    for (const s of SCRIPTS) {
      const r = spawnSync("shellcheck", ["--shell=bash", "-"], { input: bundleScript(s), encoding: "utf8" });
      assert.equal(r.status, 0, `${s}\n${r.stdout}${r.stderr}`);
    }
  });

  it("behaves like the script: same output, exit status and files, for every dev step and the scheduler", () => {
    const runs: [ScriptName, string[]][] = [
      ...hostSteps(DEBIAN.plan, DEBIAN.host).map((s): [ScriptName, string[]] => [s.script, s.args]),
      ["scheduler.sh", []],
      // Refused input: the message names the script, not "bash".
      ["tuned.sh", ["--profile", "realtime-virtual-host", "--isolated-cores", "4-11;reboot"]],
      ["kernel-args.sh", ["--os", "rhel-9", "--args", ARGS]],
    ];
    for (const [script, args] of runs) {
      const twin = [buildDebianRoot(), buildDebianRoot()];
      try {
        for (const root of twin) root.write("/boot/grub/grub.cfg", GRUB_CFG);
        const asFile = runScript(script, [...args, "--root", twin[0].dir]);
        const asShipped = runShipped(script, [...args, "--root", twin[1].dir]);
        const what = `${script} ${args.join(" ")}`;
        const norm = (r: ScriptResult, root: TestRoot) => ({
          status: r.status,
          stdout: r.stdout.replaceAll(root.dir, "<root>"),
          stderr: r.stderr.replaceAll(root.dir, "<root>"),
          tripped: r.tripped,
        });
        assert.deepEqual(norm(asShipped, twin[1]), norm(asFile, twin[0]), what);
        assert.deepEqual(snapshotDiff(twin[0].snapshot(), twin[1].snapshot()), [], `${what}: the two roots differ`);
        assert.ok(asFile.status === 0 || asFile.stderr.startsWith(`${script}: `), `${what}\n${show(asFile)}`);
      } finally {
        for (const root of twin) root.remove();
      }
    }
  });

  it("the dev host's steps, sent as bundles, prepare a Debian root; after the reboot a second run changes nothing", () => {
    const root = buildDebianRoot();
    try {
      root.write("/boot/grub/grub.cfg", GRUB_CFG);
      const steps = hostSteps(DEBIAN.plan, DEBIAN.host);
      const run = () => steps.map((s) => ({ id: s.id, r: runShipped(s.script, [...s.args, "--root", root.dir]) }));
      for (const { id, r } of run()) {
        assert.equal(r.status, 0, `${id}\n${show(r)}`);
        assert.deepEqual(r.tripped, [], id);
        assert.equal(r.last, id === "facts" ? "unchanged" : "changed", `${id}\n${show(r)}`);
      }
      assert.match(root.read("/etc/tuned/realtime-virtual-host-variables.conf"), /^isolated_cores=4-11$/m);
      assert.match(root.read("/etc/default/grub"), new RegExp(`^GRUB_CMDLINE_LINUX=".*${ARGS}"$`, "m"));
      assert.match(root.read("/etc/nova/nova.conf"), /^cpu_dedicated_set = 4-11$/m);

      // What the commands skipped under --root would have done: apt-get installed the packages,
      // tuned-adm activated the profile (TuneD records its bootloader arguments), and the
      // host rebooted into the RT kernel with the arguments of the default entry.
      const arch = execFileSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).trim();
      writeDpkgStatus(root, {
        tuned: "install ok installed",
        tuna: "install ok installed",
        [`linux-image-rt-${arch}`]: "install ok installed",
        "rt-tests": "install ok installed",
      });
      const tunedParams = /^set tuned_params="(.*)"$/m.exec(GRUB_CFG)![1];
      root.write("/etc/tuned/active_profile", "realtime-virtual-host\n");
      root.write("/etc/tuned/bootcmdline", `TUNED_BOOT_CMDLINE="${tunedParams}"\nTUNED_BOOT_INITRD_ADD=""\n`);
      root.setKernel(
        RT_KERNEL,
        RT_VERSION,
        `BOOT_IMAGE=/boot/vmlinuz-${RT_KERNEL} root=UUID=2f6c3c1e-8d1a-4c55-9a7e-51a0c3f0d7b4 ro ${ARGS} quiet ${tunedParams}`,
      );
      root.write("/proc/sys/kernel/random/boot_id", "0c9e4a52-1b7e-4f0d-a1a3-7e0c1f1b9d27\n");

      const before = root.snapshot();
      for (const { id, r } of run()) {
        assert.equal(r.status, 0, `${id}\n${show(r)}`);
        assert.equal(r.last, "unchanged", `${id}\n${show(r)}`);
      }
      assert.deepEqual(snapshotDiff(before, root.snapshot()), []);
    } finally {
      root.remove();
    }
  });
});
