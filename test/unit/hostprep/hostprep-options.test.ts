/**
 * The option loop the step scripts share (hostprep/common.sh parse_options): --root, the usage
 * line on an unknown word, and --restart-command / --check for the scripts that restart a
 * service, run for real with bash. Bad input exits 2 before anything is read or changed.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { OS_FAMILIES } from "../../../lib/hostprep/rules";
import { runScript } from "../../support/debian-root";

/** Each step script with its usage line after the name, and arguments it takes. */
const SCRIPTS: { script: string; usage: string; valid: string[] }[] = [
  {
    script: "packages.sh",
    usage: "--os <family> [--no-rt-kernel] [--stalld] [--root DIR]",
    valid: ["--os", "debian-12"],
  },
  {
    script: "tuned.sh",
    usage: "--profile realtime-virtual-host --isolated-cores <cpulist> [--stalld on|off] [--root DIR]",
    valid: ["--profile", "realtime-virtual-host", "--isolated-cores", "2-3"],
  },
  {
    script: "kernel-args.sh",
    usage:
      '--os <family> --args "<args>" [--hugepages-unit 0:4:1G,1:4:1G,0:512:2M,1:512:2M] [--hugetlbfs-mount 2M]... [--root DIR]',
    valid: ["--os", "debian-12", "--args", "quiet"],
  },
  {
    script: "nova-compute.sh",
    usage:
      "--dedicated <cpulist> [--shared <cpulist>] --reserved-host-memory-mb <N> [--reserved-huge-pages <entries>] [--cpu-power-management off] [--conf PATH] [--restart-command WORDS | --check] [--root DIR]",
    valid: ["--dedicated", "2-3", "--reserved-host-memory-mb", "4096"],
  },
  { script: "scheduler.sh", usage: "[--conf PATH] [--restart-command WORDS | --check] [--root DIR]", valid: [] },
  {
    script: "reboot.sh",
    usage:
      '--args "<args>" [--hugepages-unit 0:4:1G,1:4:1G,0:512:2M,1:512:2M] [--hugetlbfs-mount 2M]... [--expect-rt yes|no] [--root DIR]',
    valid: ["--args", "quiet"],
  },
];

function refused(script: string, args: string[], message: string): void {
  const r = runScript(script, args);
  assert.equal(r.status, 2, `${script} ${args.join(" ")}: exit 2, got ${r.status}: ${r.stderr}`);
  assert.equal(r.stderr, `${script}: invalid input: ${message}\n`);
  assert.equal(r.stdout, "");
}

describe("hostprep: the shared option loop", () => {
  const notDir = mkdtempSync(join(tmpdir(), "hostprep-options-"));
  after(() => rmSync(notDir, { recursive: true, force: true }));

  for (const { script, usage, valid } of SCRIPTS) {
    it(`${script}: an unknown word, anywhere, names it and prints the script's usage`, () => {
      refused(script, ["--bogus"], `unknown argument --bogus; usage: ${script} ${usage}`);
      refused(script, [...valid, "extra word"], `unknown argument extra\\ word; usage: ${script} ${usage}`);
    });

    it(`${script}: --root takes an existing absolute directory`, () => {
      refused(script, [...valid, "--root"], "--root needs a value");
      refused(
        script,
        ["--root", "relative/dir", ...valid],
        "--root must be an absolute path of letters, digits and ._/+- (got relative/dir)",
      );
      refused(
        script,
        ["--root", "/tmp/../etc", ...valid],
        "--root must not contain . or .. components (got /tmp/../etc)",
      );
      refused(
        script,
        ["--root", join(notDir, "missing"), ...valid],
        `--root ${join(notDir, "missing")} is not a directory`,
      );
    });
  }

  for (const script of ["packages.sh", "tuned.sh", "kernel-args.sh", "reboot.sh"]) {
    const { usage, valid } = SCRIPTS.find((s) => s.script === script)!;
    it(`${script} restarts nothing: --restart-command and --check are unknown to it`, () => {
      refused(
        script,
        [...valid, "--restart-command", "x"],
        `unknown argument --restart-command; usage: ${script} ${usage}`,
      );
      refused(script, [...valid, "--check"], `unknown argument --check; usage: ${script} ${usage}`);
    });
  }

  for (const [script, example] of [
    ["nova-compute.sh", "docker restart nova_compute"],
    ["scheduler.sh", "docker restart nova_scheduler"],
  ] as const) {
    const { valid } = SCRIPTS.find((s) => s.script === script)!;
    it(`${script}: --restart-command takes plain words, and never together with --check`, () => {
      refused(
        script,
        [...valid, "--restart-command", "docker restart x; reboot"],
        `--restart-command takes a command and its arguments separated by single spaces, without quotes or shell characters, such as "${example}" (got docker\\ restart\\ x\\;\\ reboot)`,
      );
      refused(script, [...valid, "--restart-command"], "--restart-command needs a value");
      const both = "--check writes nothing, so it restarts nothing: drop --restart-command";
      refused(script, [...valid, "--check", "--restart-command", "docker restart x"], both);
      refused(script, [...valid, "--restart-command", "docker restart x", "--check"], both);
    });
  }

  it("--os names the supported families, common.sh's list", () => {
    for (const script of ["packages.sh", "kernel-args.sh"])
      refused(script, ["--os", "debian-11"], `--os must be one of ${OS_FAMILIES.join(" ")} (got debian-11)`);
  });

  it("kernel-args.sh and reboot.sh read the boot options alike (common.sh boot_option)", () => {
    const scripts = { "kernel-args.sh": ["--os", "debian-12"], "reboot.sh": [] as string[] };
    for (const [script, before] of Object.entries(scripts)) {
      refused(script, before, '--args is required (it may be "")');
      refused(script, [...before, "--args"], "--args needs a value");
      refused(
        script,
        [...before, "--args", "", "--hugepages-unit", "0:4"],
        "--hugepages-unit takes <node>:<count>:<size> entries with size 1G or 2M, such as 0:4:1G; 0:4 is the old <node>:<count> form",
      );
      refused(
        script,
        [...before, "--args", "", "--hugepages-unit", "0:4:1G,0:8:1G"],
        "--hugepages-unit names node 0 with 1G pages twice",
      );
      refused(
        script,
        [...before, "--args", "", "--hugetlbfs-mount", "4M"],
        "--hugetlbfs-mount must be 1G or 2M (got 4M)",
      );
      refused(
        script,
        [...before, "--args", "", "--hugetlbfs-mount", "2M", "--hugetlbfs-mount", "2M"],
        "--hugetlbfs-mount 2M is given twice",
      );
    }
  });
});
