/**
 * lib/hostprep/rules.ts against the bash scripts it describes: the lists, patterns and limits
 * are read out of the scripts' text and must equal the TypeScript ones, and the bash patterns
 * must accept and refuse the same samples as the TypeScript ones when bash itself runs them.
 * A change on one side alone fails here.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { MAX_CPU } from "../../../lib/cpu/cpuset";
import {
  KERNEL_ARG,
  MAX_CPU_ID,
  MAX_KERNEL_ARG_CHARS,
  MAX_KERNEL_ARGS,
  NOVA_DEFAULT_FILTERS,
  OS_FAMILIES,
  RESTART_COMMAND_WORDS,
  RT_SCHEDULER_FILTERS,
} from "../../../lib/hostprep/rules";
import { HOSTPREP_DIR } from "../../support/debian-root";

const read = (file: string) => readFileSync(join(HOSTPREP_DIR, file), "utf8");
const common = read("common.sh");

/** The one top-level assignment `NAME=...` in a script: its value as written. */
function assigned(text: string, name: string, file: string): string {
  const found = [...text.matchAll(new RegExp(`^${name}=(.*)$`, "gm"))];
  assert.equal(found.length, 1, `${file} assigns ${name} once at the top level, not ${found.length} times`);
  return found[0][1].replace(/\s+#.*$/, "");
}
/** A bash array `NAME=(a b c)`. */
const arrayOf = (text: string, name: string, file: string) =>
  assigned(text, name, file)
    .replace(/^\(|\)$/g, "")
    .split(/\s+/);
/** A single-quoted bash string `NAME='...'`. */
const quoted = (text: string, name: string, file: string) => assigned(text, name, file).replace(/^'|'$/g, "");

/** What `[[ $s =~ $re ]]` says in bash for each sample, true for a match. */
function bashMatches(re: string, samples: readonly string[]): boolean[] {
  const out = execFileSync(
    "bash",
    [
      "-c",
      're=$1; shift; for s in "$@"; do if [[ $s =~ $re ]]; then echo 1; else echo 0; fi; done',
      "bash",
      re,
      ...samples,
    ],
    { encoding: "utf8" },
  );
  return out
    .split("\n")
    .filter(Boolean)
    .map((l) => l === "1");
}

/** Samples for both sides of a pattern: accepted, refused, and near misses. */
const KERNEL_ARG_SAMPLES = [
  "isolcpus=managed_irq,domain,4-11",
  "nohz_full=4-11",
  "quiet",
  "hugepagesz=1G",
  "rcu_nocb_poll",
  "intel_iommu=on",
  "a.b-c=x/y:z+w@v",
  "1abc",
  "-x",
  "key=",
  "key=a b",
  "key='a'",
  "key=$(reboot)",
  "key=a;b",
  "",
];
const COMMAND_SAMPLES = [
  "docker restart nova_compute",
  "systemctl restart nova-compute",
  "podman restart nova_compute",
  "x",
  "docker  restart",
  " docker restart",
  "docker restart ",
  "docker restart nova_compute; reboot",
  "docker restart $(id)",
  'docker restart "a"',
  "a b c d e f g h i j k l m n o p",
  "a b c d e f g h i j k l m n o p q",
  "",
];

describe("hostprep: the TypeScript rules and the bash scripts agree", () => {
  it("the OS families: common.sh OS_FAMILIES, and is_os_family accepts exactly them", () => {
    assert.deepEqual(arrayOf(common, "OS_FAMILIES", "common.sh"), [...OS_FAMILIES]);
    const samples = [...OS_FAMILIES, "debian-11", "rhel-10", "ubuntu-24.04 rhel-9", "", "debian-12 "];
    const out = execFileSync(
      "bash",
      [
        "-c",
        '. "$0"; for s in "$@"; do if is_os_family "$s"; then echo 1; else echo 0; fi; done',
        join(HOSTPREP_DIR, "common.sh"),
        ...samples,
      ],
      { encoding: "utf8", env: { ...process.env, PROG: "agreement" } },
    );
    assert.deepEqual(
      out.split("\n").filter(Boolean),
      samples.map((s) => ((OS_FAMILIES as readonly string[]).includes(s) ? "1" : "0")),
    );
  });

  it("the highest CPU id: common.sh MAX_CPU_ID, lib/cpu's MAX_CPU and the rules' MAX_CPU_ID", () => {
    assert.equal(Number(assigned(common, "MAX_CPU_ID", "common.sh").split(" ")[0]), MAX_CPU_ID);
    assert.equal(MAX_CPU_ID, MAX_CPU);
  });

  it("the kernel argument: common.sh KERNEL_ARG_RE and the guest setup script's pattern, with the same limits", () => {
    const bashRe = quoted(common, "KERNEL_ARG_RE", "common.sh");
    assert.equal(bashRe, KERNEL_ARG.source);
    const guest = read("guest/rt-guest-setup.sh").match(/\[\[ \$arg =~ (\^.*\$) \]\]/);
    assert.ok(guest, "guest/rt-guest-setup.sh checks each kernel argument with [[ $arg =~ ^...$ ]]");
    assert.equal(guest[1], KERNEL_ARG.source);
    assert.deepEqual(
      bashMatches(bashRe, KERNEL_ARG_SAMPLES),
      KERNEL_ARG_SAMPLES.map((s) => KERNEL_ARG.test(s)),
    );
    assert.equal(Number(assigned(common, "MAX_KERNEL_ARGS", "common.sh")), MAX_KERNEL_ARGS);
    assert.equal(Number(assigned(common, "MAX_KERNEL_ARG_CHARS", "common.sh")), MAX_KERNEL_ARG_CHARS);
  });

  it("the restart command: common.sh RESTART_WORDS_RE, and no script keeps its own copy", () => {
    const bashRe = quoted(common, "RESTART_WORDS_RE", "common.sh");
    assert.equal(bashRe, RESTART_COMMAND_WORDS.source);
    assert.deepEqual(
      bashMatches(bashRe, COMMAND_SAMPLES),
      COMMAND_SAMPLES.map((s) => RESTART_COMMAND_WORDS.test(s)),
    );
    for (const script of ["nova-compute.sh", "scheduler.sh"])
      assert.ok(!read(script).includes(RESTART_COMMAND_WORDS.source), `${script} uses common.sh's pattern`);
  });

  it("the scheduler filters: scheduler.sh NOVA_DEFAULT_FILTERS and REQUIRED_FILTERS", () => {
    const scheduler = read("scheduler.sh");
    assert.deepEqual(arrayOf(scheduler, "NOVA_DEFAULT_FILTERS", "scheduler.sh"), [...NOVA_DEFAULT_FILTERS]);
    assert.deepEqual(arrayOf(scheduler, "REQUIRED_FILTERS", "scheduler.sh"), [...RT_SCHEDULER_FILTERS]);
  });
});
