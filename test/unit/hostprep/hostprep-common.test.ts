/**
 * What every hostprep script shares: the helpers in hostprep/common.sh (and the oslo.config
 * editor in hostprep/ini.sh), sourced rather than copied; the shell header; and refusing hostile
 * arguments before touching anything.
 */
import assert from "node:assert/strict";
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import type { ScriptResult, TestRoot } from "../../support/debian-root";
import { HOSTPREP_DIR, buildDebianRoot, runScript, show, snapshotDiff } from "../../support/debian-root";
import { LIBRARIES, SCRIPT_NAMES as SCRIPTS } from "../../../lib/hostprep/scripts";
const read = (f: string) => readFileSync(join(HOSTPREP_DIR, f), "utf8");
const sourceLine = (lib: string) =>
  `# shellcheck source-path=SCRIPTDIR source=${lib}\n. "$(dirname "\${BASH_SOURCE[0]}")/${lib}"\n`;

describe("hostprep scripts: shared structure", () => {
  it("are the seven scripts, each an executable bash script with set -euo pipefail, and two sourced libraries", () => {
    assert.deepEqual(
      readdirSync(HOSTPREP_DIR)
        .filter((f) => f.endsWith(".sh"))
        .sort(),
      [...SCRIPTS, ...LIBRARIES].sort(),
    );
    for (const s of SCRIPTS) {
      const text = read(s);
      assert.ok(text.startsWith("#!/usr/bin/env bash\n"), `${s}: shebang`);
      assert.match(text, /^set -euo pipefail$/m, `${s}: strict mode`);
      accessSync(join(HOSTPREP_DIR, s), constants.X_OK);
      assert.doesNotMatch(text, /\beval\b/, `${s} must not eval`);
    }
    for (const lib of LIBRARIES) {
      const text = read(lib);
      assert.ok(text.startsWith("# shellcheck shell=bash\n"), `${lib}: a library, linted as bash`);
      assert.equal(statSync(join(HOSTPREP_DIR, lib)).mode & 0o111, 0, `${lib} is sourced, not run`);
      assert.doesNotMatch(text, /\beval\b/, `${lib} must not eval`);
    }
  });

  it("each script names itself and sources common.sh (nova-compute.sh and scheduler.sh also ini.sh) the one way bundleScript inlines", () => {
    for (const s of SCRIPTS) {
      const text = read(s);
      // Under `bash -s` $0 is "bash": the messages name the script through PROG.
      assert.ok(
        text.includes(`\nPROG=${s}\n${sourceLine("common.sh")}`),
        `${s}: PROG=${s}, then the common.sh source line`,
      );
      const libs = [...text.matchAll(/^\. .*\/([a-z-]+\.sh)"$/gm)].map((m) => m[1]);
      assert.deepEqual(
        libs,
        ["nova-compute.sh", "scheduler.sh"].includes(s) ? ["common.sh", "ini.sh"] : ["common.sh"],
        s,
      );
    }
  });

  it("define every helper once: no function but each script's main is defined in two files", () => {
    const where = new Map<string, string[]>();
    for (const f of [...SCRIPTS, ...LIBRARIES]) {
      for (const m of read(f).matchAll(/^([a-z_][a-z0-9_]*)\(\) \{/gm))
        where.set(m[1], [...(where.get(m[1]) ?? []), f]);
    }
    assert.deepEqual(
      [...where].filter(([name, files]) => name !== "main" && files.length > 1),
      [],
    );
    assert.ok(where.size > 30, "the pattern finds the definitions");
  });
});

describe("hostprep scripts: hostile arguments are refused before anything changes", () => {
  let root: TestRoot;
  let before_: Map<string, string>;
  let beforeSha: Map<string, string>;
  let canaryDir: string;
  let canary: string;

  before(() => {
    root = buildDebianRoot();
    before_ = root.fingerprint();
    beforeSha = root.snapshot();
    canaryDir = mkdtempSync(join(tmpdir(), "hostprep-canary-"));
    canary = join(canaryDir, "pwned");
  });
  after(() => {
    // The sha256 of every file, once more at the end, on top of the per-run fingerprints.
    assert.deepEqual(snapshotDiff(beforeSha, root.snapshot()), []);
    root.remove();
    rmSync(canaryDir, { recursive: true, force: true });
  });

  const valid = (r: string): Record<string, string[]> => ({
    "facts.sh": ["--root", r],
    "packages.sh": ["--os", "debian-12", "--root", r],
    "tuned.sh": ["--profile", "realtime-virtual-host", "--isolated-cores", "4-11", "--root", r],
    "kernel-args.sh": [
      "--os",
      "debian-12",
      "--args",
      "default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4",
      "--root",
      r,
    ],
    "nova-compute.sh": ["--dedicated", "4-11", "--reserved-host-memory-mb", "4096", "--root", r],
    "scheduler.sh": ["--root", r],
    "reboot.sh": [
      "--args",
      "default_hugepagesz=1G",
      "--hugepages-unit",
      "0:0:1G,1:0:1G",
      "--expect-rt",
      "no",
      "--root",
      r,
    ],
  });

  /** The valid arguments of `script` with `option` set to `value` (added when absent). */
  function withValue(script: string, option: string, value: string): string[] {
    const args = [...valid(root.dir)[script]];
    const i = args.indexOf(option);
    if (i >= 0) args[i + 1] = value;
    else args.unshift(option, value);
    return args;
  }

  function assertRefused(r: ScriptResult, what: string) {
    assert.equal(r.status, 2, `${what}: expected exit 2 (invalid input)\n${show(r)}`);
    assert.match(r.stderr, /invalid input/, `${what}: message\n${show(r)}`);
    assert.ok(!r.lines.includes("changed"), `${what}: reported a change\n${show(r)}`);
    assert.deepEqual(r.tripped, [], `${what}: reached the live system`);
    assert.equal(existsSync(canary), false, `${what}: the injected command ran`);
    assert.deepEqual(snapshotDiff(before_, root.fingerprint()), [], `${what}: changed files under the root`);
  }

  const injections = (c: () => string) => [
    `4-11;touch ${c()}`,
    `$(touch ${c()})`,
    `\`touch ${c()}\``,
    `4-11 && touch ${c()}`,
    `4-11|touch ${c()}`,
    "4-11\nreboot",
    "4-11;reboot",
    "../4-11",
  ];

  it("the valid arguments pass (so the refusals below are about the hostile value)", () => {
    const fresh = buildDebianRoot();
    try {
      for (const s of SCRIPTS) {
        const r = runScript(s, valid(fresh.dir)[s]);
        assert.equal(r.status, 0, `${s}\n${show(r)}`);
        assert.match(r.last, /^(changed|unchanged)$/, `${s}\n${show(r)}`);
      }
    } finally {
      fresh.remove();
    }
  });

  it("CPU lists", () => {
    const bad = [
      ...injections(() => canary),
      "",
      " 4-11",
      "4-11 ",
      "4-11,",
      "11-4",
      "-1",
      "04-11",
      "4-99999",
      "4_11",
      "0x4",
    ];
    for (const [script, option] of [
      ["tuned.sh", "--isolated-cores"],
      ["nova-compute.sh", "--dedicated"],
      ["nova-compute.sh", "--shared"],
    ]) {
      for (const v of bad)
        assertRefused(runScript(script, withValue(script, option, v)), `${script} ${option} ${JSON.stringify(v)}`);
    }
  });

  it("kernel arguments", () => {
    const bad = [
      `default_hugepagesz=1G;touch ${canary}`,
      `$(touch ${canary})`,
      `\`touch ${canary}\``,
      `quiet && touch ${canary}`,
      "quiet\ninit=/bin/sh",
      "quiet\tinit=/bin/sh",
      'console="ttyS0"',
      "console='ttyS0'",
      "x=$HOME",
      "a\\b",
      "hugepages=1 hugepages=2",
      // hugepagesz/hugepages may repeat only as pairs, one per page size.
      "hugepagesz=1G hugepages=1 hugepages=2",
      "hugepagesz=2M hugepages=1 hugepagesz=2M hugepages=2",
      "hugepagesz=1G hugepagesz=1024M",
      "hugepagesz hugepages=1",
      "hugepagesz=1G hugepages",
      "default_hugepagesz=1G default_hugepagesz=2M",
      "=1G",
      "-quiet",
    ];
    for (const script of ["kernel-args.sh", "reboot.sh"]) {
      for (const v of bad)
        assertRefused(runScript(script, withValue(script, "--args", v)), `${script} --args ${JSON.stringify(v)}`);
    }
  });

  it("numbers, OS families, profiles, switches and page lists", () => {
    const cases: [string, string, string][] = [];
    for (const v of ["4096;reboot", `$(touch ${canary})`, "-1", "0x10", "4096\n", "99999999999", "010", "4 096", ""]) {
      cases.push(["nova-compute.sh", "--reserved-host-memory-mb", v]);
    }
    for (const script of ["packages.sh", "kernel-args.sh"]) {
      for (const v of [
        "debian-12;reboot",
        `$(touch ${canary})`,
        "debian",
        "../debian-12",
        "rhel-9\n",
        "RHEL-9",
        "centos-7",
      ])
        cases.push([script, "--os", v]);
    }
    for (const v of [
      "../../etc/passwd",
      `realtime-virtual-host;touch ${canary}`,
      "balanced",
      "realtime-virtual-host\n",
    ])
      cases.push(["tuned.sh", "--profile", v]);
    for (const v of [
      `node:0,size:1GB,count:1;touch ${canary}`,
      `$(touch ${canary})`,
      "node:0,size:1GB,count:1\nnode:1",
      "node:0,size:1GB",
      "node:0,size:1GB,count:1;",
      "node:0,size:1GB,count:-1",
    ]) {
      cases.push(["nova-compute.sh", "--reserved-huge-pages", v]);
    }
    for (const script of ["kernel-args.sh", "reboot.sh"]) {
      for (const v of [
        `0:4:1G,1:4:1G;touch ${canary}`,
        `$(touch ${canary})`,
        "0:4:1G 1:4:1G",
        "0:4:1G,0:2:1G",
        "a:4:1G",
        "0:4:1G,",
        "0:04:1G",
        "0:4:4M",
        "0:4:1g",
        "0:4:",
        "0:4:1G:2M",
        "0:12345678:2M",
        // The <node>:<count> form of 1 GiB pages only, which callers no longer send.
        "0:4,1:4",
        "0:4",
      ])
        cases.push([script, "--hugepages-unit", v]);
      for (const v of [`2M;touch ${canary}`, `$(touch ${canary})`, "4M", "2m", "2048kB", "2M\n", "", "../2M"])
        cases.push([script, "--hugetlbfs-mount", v]);
    }
    for (const v of ["yes;reboot", "maybe", "YES"]) cases.push(["reboot.sh", "--expect-rt", v]);
    for (const [script, option, v] of cases)
      assertRefused(runScript(script, withValue(script, option, v)), `${script} ${option} ${JSON.stringify(v)}`);
  });

  it("paths: --conf only a plain absolute path, --restart-command only plain words, --root only a plain existing directory", () => {
    for (const script of ["nova-compute.sh", "scheduler.sh"]) {
      for (const v of [
        "/etc/nova/../../tmp/x",
        `/etc/nova/nova.conf;touch ${canary}`,
        "/etc/kolla/./nova.conf",
        "/etc/kolla/nova compute/nova.conf",
        "/etc/kolla//nova.conf",
        "../nova.conf",
        "/etc/nova/nova.conf\n",
        "etc/nova/nova.conf",
        "",
      ]) {
        assertRefused(runScript(script, withValue(script, "--conf", v)), `${script} --conf ${JSON.stringify(v)}`);
      }
      for (const v of [
        `docker restart nova_compute;touch ${canary}`,
        `docker restart $(touch ${canary})`,
        "docker  restart nova_compute",
        "docker restart 'nova_compute'",
        "docker restart nova_compute\n",
        "docker | sh",
        "",
      ]) {
        assertRefused(
          runScript(script, withValue(script, "--restart-command", v)),
          `${script} --restart-command ${JSON.stringify(v)}`,
        );
      }
    }
    for (const script of SCRIPTS) {
      for (const v of [
        `${root.dir}/../`,
        `${root.dir}/.`,
        "relative/root",
        `${root.dir};touch ${canary}`,
        `$(touch ${canary})`,
        `${root.dir}\n`,
        "/nonexistent-hostprep-root",
        "",
      ]) {
        assertRefused(runScript(script, withValue(script, "--root", v)), `${script} --root ${JSON.stringify(v)}`);
      }
    }
  });

  it("unknown options and options without a value", () => {
    for (const script of SCRIPTS) {
      assertRefused(runScript(script, [...valid(root.dir)[script], "--evil"]), `${script} --evil`);
      assertRefused(runScript(script, [...valid(root.dir)[script], `$(touch ${canary})`]), `${script} positional`);
      const args = valid(root.dir)[script];
      assertRefused(runScript(script, args.slice(0, -1)), `${script} ${args.at(-2)} without a value`);
    }
  });

  it("an --isolated-cores value is either refused with nothing changed, or written exactly (random strings)", () => {
    // The kernel's cpulist shape, as the scripts accept it.
    const accepted = (s: string) =>
      /^(0|[1-9]\d{0,3})(-(0|[1-9]\d{0,3}))?(,(0|[1-9]\d{0,3})(-(0|[1-9]\d{0,3}))?)*$/.test(s) &&
      s.split(",").every((item) => {
        const [lo, hi = lo] = item.split("-").map(Number);
        return lo <= hi && hi <= 11; // this root's online CPUs are 0-11
      });
    const alphabet = fc.constantFrom(..."0123456789,-;$()` \n./'\"|&".split(""));
    const item = fc
      .tuple(fc.integer({ min: 0, max: 14 }), fc.option(fc.integer({ min: 0, max: 14 })))
      .map(([a, b]) => (b === null ? `${a}` : `${a}-${b}`));
    const list = fc.array(item, { minLength: 1, maxLength: 3 }).map((a) => a.join(","));
    const values = fc.oneof(
      list,
      fc.tuple(list, fc.string({ unit: alphabet, minLength: 1, maxLength: 4 })).map(([l, tail]) => l + tail),
      fc.string({ unit: alphabet, minLength: 1, maxLength: 12 }),
    );
    // One root for every run: the variables file is put back before each.
    const fresh = buildDebianRoot();
    const vars = "/etc/tuned/realtime-virtual-host-variables.conf";
    const shipped = fresh.read(vars);
    try {
      fc.assert(
        fc.property(values, (value) => {
          if (fresh.read(vars) !== shipped) fresh.write(vars, shipped);
          const before = fresh.fingerprint();
          const r = runScript("tuned.sh", [
            "--profile",
            "realtime-virtual-host",
            "--isolated-cores",
            value,
            "--root",
            fresh.dir,
          ]);
          assert.deepEqual(r.tripped, []);
          assert.equal(existsSync(canary), false);
          if (accepted(value)) {
            assert.equal(r.status, 0, show(r));
            const lines = fresh.read(vars).split("\n");
            assert.deepEqual(
              lines.filter((l) => l.startsWith("isolated_cores")),
              [`isolated_cores=${value}`],
            );
          } else {
            assert.equal(r.status, 2, `${JSON.stringify(value)}\n${show(r)}`);
            assert.deepEqual(snapshotDiff(before, fresh.fingerprint()), []);
          }
        }),
        { numRuns: 40 },
      );
    } finally {
      fresh.remove();
    }
  });
});
