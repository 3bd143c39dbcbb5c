/**
 * The recorded RT host of test/fixtures/host/rt-host as host-facts.sh prints it: one section per
 * fact a host check reads. Its files are named after what they hold (tuned-adm-active.txt); the
 * sections after host-facts.sh's markers.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const DIR = join(__dirname, "..", "fixtures", "host", "rt-host");

/** Section -> the fixture file that holds it; a section without a file prints what the script prints for "nothing there". */
const FILES: Record<string, string> = {
  "uname-v": "uname-v.txt",
  "tuned-active": "tuned-adm-active.txt",
  cmdline: "cmdline.txt",
  isolated: "isolated.txt",
  "nohz-full": "nohz_full.txt",
  hugepages: "hugepages.txt",
  "nova-conf": "nova.conf",
  applied: "applied.txt",
  "tuned-variables": "tuned-variables.txt",
  interrupts: "interrupts.txt",
  lscpu: "lscpu.txt",
  "node-meminfo": "node-meminfo.txt",
  "boot-grub-cfg": "grub.cfg",
  "cpu-power": "cpu-power.txt",
};

export function rtHostSections(): Record<string, string> {
  const file = (name: string) => readFileSync(join(DIR, name), "utf8").replace(/\n$/, "");
  const sections = Object.fromEntries(Object.entries(FILES).map(([section, name]) => [section, file(name)]));
  return {
    ...sections,
    "tuned-verify": `exit=${file("tuned-adm-verify.rc").trim()}\n${file("tuned-adm-verify.txt")}`,
    // No 2 MiB pool in the dev plan, no mount; a Debian host has no grubby and an empty grubenv.
    hugetlbfs: existsSync(join(DIR, "hugetlbfs.txt")) ? file("hugetlbfs.txt") : "",
    "boot-grubby": "<absent>",
    "boot-grubenv": "",
    // Debian packages no stalld (no unit); RT throttling is TuneD's realtime profile's -1.
    stalld: "<absent>",
    "rt-throttling": "-1",
    // Not recorded with the host: TuneD 2.20's realtime-virtual-host as host-facts.sh prints it on
    // Debian 12 (no perf module, so TuneD's scheduler plugin applies none of its rules), and the
    // threads at the 6.1 RT kernel's own priorities (ksoftirqd SCHED_OTHER, ktimers and rcuc FIFO 1).
    kthreads: readFileSync(join(DIR, "..", "kthreads", "rt-kernel-defaults.txt"), "utf8").replace(/\n$/, ""),
    "tuned-scheduler": readFileSync(join(DIR, "..", "kthreads", "debian12-rvh-scheduler.txt"), "utf8").replace(
      /\n$/,
      "",
    ),
  };
}

/** A host-facts.sh stand-in that prints these sections. */
export function recordedHostScript(sections: Record<string, string>): string {
  const body = Object.entries(sections)
    .map(([name, text]) => `echo '=== ${name} ==='\ncat <<'FACTS'\n${text}\nFACTS`)
    .join("\n");
  return `#!/usr/bin/env bash\nset -euo pipefail\n${body}\necho '=== end ==='\n`;
}
