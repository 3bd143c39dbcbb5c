/*
 * The default boot entry check, on real inputs. host/boot/debian12-*.grub.cfg are Debian 12's
 * grub-mkconfig output for the dev plan's compute-rt-01 with TuneD's 00_tuned hook
 * (host/boot/make-grub-cfg.sh says how they were made): GRUB_DEFAULT=0 and GRUB_DEFAULT=saved.
 * grubby cannot run here (RHEL's grubby is a script over /boot/loader/entries and grub2-editenv):
 * its answer is written in the format of its --info output (the RHEL 9.1 sample in Red Hat
 * Insights' grubby parser, insights/parsers/grubby.py), for the RT kernel's BLS entry with the
 * `$tuned_params` that TuneD's kernel-install hook (92-tuned.install) appends to every entry and
 * the value TuneD's bootloader plugin keeps in grubenv (plugin_bootloader.py, _bls_update).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { checkHostFacts, HOST_CHECKS } from "../../../lib/checks/host";
import { hostCheck, hostSectionsRead, runHostChecks } from "../../../lib/checks/host-check";
import type { BootEntryRead } from "../../../lib/checks/host-boot-entry";
import {
  checkBootEntry,
  defaultBootEntry,
  grubbyDefaultEntry,
  grubCfgDefaultEntry,
} from "../../../lib/checks/host-boot-entry";
import type { CheckResult } from "../../../lib/checks/result";
import { formatReport } from "../../../lib/checks/result";
import { hostFactsArgs, parseSections } from "../../../lib/checks/verification";
import type { HostPlan } from "../../../lib/plan/host";
import { scriptText } from "../../../lib/providers/collect";
import { argToDrop, dropBootArgScript, restoreBootEntryScript } from "../../support/boot-entry-fault";
import { SCRATCH } from "../../support/debian-root";
import { devHost } from "../../support/dev-config";

const BOOT = join(__dirname, "..", "..", "fixtures", "host", "boot");
const cfg0 = readFileSync(join(BOOT, "debian12-default0.grub.cfg"), "utf8");
const cfgSaved = readFileSync(join(BOOT, "debian12-saved.grub.cfg"), "utf8");

/** The dev plan's compute-rt-01 with the arguments the fixtures were made with. */
const base = devHost("compute-rt-01");
const plan: HostPlan = {
  ...base,
  tuned: { ...base.tuned, profile: "realtime-virtual-host" },
  kernel: {
    ...base.kernel,
    args: ["default_hugepagesz=1G", "hugepagesz=1G", "hugepages=0:4,1:4"],
    tunedArgs: ["isolcpus=4-11", "nohz=on", "nohz_full=4-11", "rcu_nocbs=4-11", "irqaffinity=0-3"],
  },
};
const TUNED_PARAMS =
  "skew_tick=1 isolcpus=managed_irq,domain,4-11 intel_pstate=disable nosoftlockup tsc=reliable nohz=on nohz_full=4-11 rcu_nocbs=4-11 irqaffinity=0,1,2,3";

const env = (text: string) => new Map(text.split("\n").map((l) => l.split(/=(.*)/s).slice(0, 2) as [string, string]));

function entryOf(read: BootEntryRead) {
  assert.ok(read.ok, read.ok ? "" : read.reason);
  return read.entry;
}

function named(results: CheckResult[], check: string): CheckResult {
  const r = results.find((x) => x.check === check);
  assert.ok(r, `no "${check}" in:\n${formatReport(results)}`);
  return r;
}

describe("grub.cfg's default entry, read as GRUB reads it (Debian 12's grub-mkconfig output)", () => {
  it("GRUB_DEFAULT=0: the first entry, its $tuned_params expanded from grub.cfg's 00_tuned block", () => {
    const e = entryOf(grubCfgDefaultEntry(cfg0, new Map()));
    assert.equal(e.kernel, "/boot/vmlinuz-6.1.0-28-rt-amd64");
    assert.equal(
      e.args,
      `root=/dev/vda ro default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4 quiet ${TUNED_PARAMS}`,
    );
    const results = checkBootEntry(grubCfgDefaultEntry(cfg0, new Map()), plan);
    assert.deepEqual(
      results.map((r) => [r.check, r.ok]),
      [
        ["boot entry arguments", true],
        ["boot entry kernel", true],
      ],
    );
  });

  it("GRUB_DEFAULT=saved: grubenv's saved_entry, by id path, title path or index path, through the submenu", () => {
    const byId = "gnulinux-advanced-/dev/vda>gnulinux-6.1.0-28-amd64-advanced-/dev/vda";
    assert.equal(
      entryOf(grubCfgDefaultEntry(cfgSaved, env(`saved_entry=${byId}`))).kernel,
      "/boot/vmlinuz-6.1.0-28-amd64",
    );
    const byTitle = "Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-28-rt-amd64";
    assert.equal(
      entryOf(grubCfgDefaultEntry(cfgSaved, env(`saved_entry=${byTitle}`))).kernel,
      "/boot/vmlinuz-6.1.0-28-rt-amd64",
    );
    assert.equal(entryOf(grubCfgDefaultEntry(cfgSaved, env("saved_entry=1>2"))).kernel, "/boot/vmlinuz-6.1.0-28-amd64");
    // No saved_entry yet: GRUB boots entry 0.
    assert.equal(entryOf(grubCfgDefaultEntry(cfgSaved, new Map())).kernel, "/boot/vmlinuz-6.1.0-28-rt-amd64");
  });

  it("a saved standard kernel fails the kernel check with the fix, the arguments still pass", () => {
    const read = grubCfgDefaultEntry(
      cfgSaved,
      env("saved_entry=gnulinux-advanced-/dev/vda>gnulinux-6.1.0-28-amd64-advanced-/dev/vda"),
    );
    const results = checkBootEntry(read, plan);
    assert.equal(named(results, "boot entry arguments").ok, true);
    const k = named(results, "boot entry kernel");
    assert.equal(k.ok, false);
    assert.equal(k.observed, "6.1.0-28-amd64");
    assert.match(k.hint, /the next boot would start 6\.1\.0-28-amd64, not an RT kernel: .*GRUB_DEFAULT=0/);
  });

  it("grub-reboot's one-time next_entry wins over the default", () => {
    const e = entryOf(grubCfgDefaultEntry(cfg0, env("next_entry=1>2")));
    assert.equal(e.kernel, "/boot/vmlinuz-6.1.0-28-amd64");
  });

  it("the recovery entry has neither quiet nor $tuned_params: TuneD's arguments are named as lost", () => {
    const results = checkBootEntry(grubCfgDefaultEntry(cfgSaved, env("saved_entry=1>1")), plan);
    const a = named(results, "boot entry arguments");
    assert.equal(a.ok, false);
    for (const lost of ["isolcpus=4-11 (absent)", "nohz_full=4-11 (absent)", "irqaffinity=0-3 (absent)"])
      assert.ok(a.observed.includes(lost), a.observed);
    assert.doesNotMatch(a.observed, /default_hugepagesz/);
    assert.match(a.hint, /run update-grub/);
  });

  it("TuneD's block gone from grub.cfg (profile switched off, update-grub without its hook): its arguments are lost", () => {
    const unpatched = cfg0.replace(/^set tuned_params=.*\n/m, "");
    assert.notEqual(unpatched, cfg0);
    const a = named(checkBootEntry(grubCfgDefaultEntry(unpatched, new Map()), plan), "boot entry arguments");
    assert.equal(a.ok, false);
    assert.match(a.observed, /^grub\.cfg's default entry lacks isolcpus=4-11 \(absent\), nohz=on \(absent\)/);
  });

  it("variables set in a boot-dependent branch do not count; a one-line if closes itself", () => {
    const branch =
      'if [ "${recordfail}" = 1 ]; then set tuned_params=""; fi\nif [ -n "$x" ] ; then\n  set tuned_params=""\nfi\n';
    const cfg = cfg0.replace("### BEGIN /etc/grub.d/00_tuned ###\n", `${branch}### BEGIN /etc/grub.d/00_tuned ###\n`);
    assert.notEqual(cfg, cfg0);
    assert.ok(entryOf(grubCfgDefaultEntry(cfg, new Map())).args.endsWith(TUNED_PARAMS));
    const after00 = cfg0.replace("### END /etc/grub.d/00_tuned ###\n", `### END /etc/grub.d/00_tuned ###\n${branch}`);
    assert.ok(entryOf(grubCfgDefaultEntry(after00, new Map())).args.endsWith(TUNED_PARAMS));
  });

  it("a default that names no entry, or a submenu, is reported as unreadable, not guessed", () => {
    const none = grubCfgDefaultEntry(cfgSaved, env("saved_entry=gnulinux-gone"));
    assert.deepEqual(none, {
      ok: false,
      reason: `grub.cfg's default "gnulinux-gone" names no boot entry: no menu item "gnulinux-gone"`,
    });
    const sub = grubCfgDefaultEntry(cfgSaved, env("saved_entry=1"));
    assert.equal(sub.ok, false);
    const r = checkBootEntry(sub, plan);
    assert.deepEqual(
      r.map((x) => [x.check, x.ok]),
      [["boot entry", false]],
    );
    assert.match(r[0].observed, /"1" is a submenu/);
  });

  it("a BLS grub.cfg without grubby says to install grubby", () => {
    const bls = 'set default="${saved_entry}"\ninsmod blscfg\nblscfg\n';
    assert.deepEqual(grubCfgDefaultEntry(bls, new Map()), {
      ok: false,
      reason: "grub.cfg: it boots BLS entries (blscfg), which grubby reads: install grubby",
    });
    assert.deepEqual(defaultBootEntry("<absent>", "<absent>", ""), {
      ok: false,
      reason: "neither grubby nor /boot/grub/grub.cfg or /boot/grub2/grub.cfg is on the host",
    });
  });
});

describe("grubby --info=DEFAULT (RHEL 9 BLS entries)", () => {
  const info = (kernel: string) =>
    [
      "index=0",
      `kernel="/boot/vmlinuz-${kernel}"`,
      'args="ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4 $tuned_params"',
      'root="/dev/mapper/rhel-root"',
      `initrd="/boot/initramfs-${kernel}.img $tuned_initrd"`,
      `title="Red Hat Enterprise Linux (${kernel}) 9.4 (Plow)"`,
      `id="4d684a4a6166439a867e701ded4f7e10-${kernel}"`,
    ].join("\n");
  const rt = "5.14.0-427.13.1.el9_4.x86_64+rt";
  const grubenv = `saved_entry=4d684a4a6166439a867e701ded4f7e10-${rt}\nboot_success=0\ntuned_params=${TUNED_PARAMS}\ntuned_initrd=`;

  it("expands $tuned_params from grubenv and passes the RT entry", () => {
    const e = entryOf(defaultBootEntry(info(rt), "<absent>", grubenv));
    assert.equal(e.source, "grubby");
    assert.equal(e.kernel, `/boot/vmlinuz-${rt}`);
    assert.ok(e.args.endsWith(`hugepages=0:4,1:4 ${TUNED_PARAMS}`), e.args);
    assert.ok(checkBootEntry(defaultBootEntry(info(rt), "<absent>", grubenv), plan).every((r) => r.ok));
  });

  it("grubby is asked first; no tuned_params in grubenv loses TuneD's arguments; a non-RT default fails with grubby's fix", () => {
    const results = checkBootEntry(defaultBootEntry(info("5.14.0-427.13.1.el9_4.x86_64"), cfg0, "saved_entry=x"), plan);
    const a = named(results, "boot entry arguments");
    assert.equal(a.ok, false);
    assert.match(a.observed, /^grubby's default entry lacks isolcpus=4-11 \(absent\)/);
    assert.match(a.hint, /grubby --update-kernel/);
    const k = named(results, "boot entry kernel");
    assert.equal(k.observed, "5.14.0-427.13.1.el9_4.x86_64");
    assert.match(k.hint, /grubby --set-default/);
  });

  it("output without kernel and args is unreadable, quoted escaped", () => {
    const read = grubbyDefaultEntry("\u001b[31mThe param /boot/vmlinuz-x is incorrect\n", new Map());
    assert.equal(read.ok, false);
    assert.ok(!formatReport(checkBootEntry(read, plan)).includes("\u001b"), "the escape byte is quoted, not passed on");
  });

  it("a cpu-partitioning host keeps its distribution kernel: only the arguments are checked", () => {
    const cp: HostPlan = { ...plan, tuned: { ...plan.tuned, profile: "cpu-partitioning" } };
    const results = checkBootEntry(defaultBootEntry(info("5.14.0-427.13.1.el9_4.x86_64"), "<absent>", grubenv), cp);
    assert.deepEqual(
      results.map((r) => [r.check, r.ok]),
      [["boot entry arguments", true]],
    );
  });
});

describe("host-facts.sh and the host checks agree", () => {
  const script = scriptText("host-facts.sh");

  it("the script prints exactly the sections the checks declare (and the end marker)", () => {
    const printed = [...script.matchAll(/^\s*section ([a-z0-9-]+)/gm)].map((m) => m[1]);
    assert.deepEqual(new Set(printed), new Set([...hostSectionsRead(HOST_CHECKS), "end"]));
  });

  it("a declared section the output lacks fails that check, naming the section", () => {
    const extra = hostCheck({ sections: ["cmdline", "not-printed"], kind: "observed", check: () => [] });
    const r = runHostChecks({ cmdline: "" }, plan, "observed", [extra]);
    assert.equal(r.length, 1);
    assert.equal(r[0].ok, false);
    assert.equal(r[0].check, "host facts not-printed");
  });

  describe("run for real, with /boot a scratch file system holding the Debian 12 grub.cfg", () => {
    const dir = mkdtempSync(join(SCRATCH, "boot-entry-"));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const cfg = join(dir, "grub.cfg");
    const backup = join(dir, "grub.cfg.fault");
    copyFileSync(join(BOOT, "debian12-default0.grub.cfg"), cfg);
    // grubenv as grub-editenv writes it: a 1024-byte block padded with '#'.
    const block = "# GRUB Environment Block\n";
    writeFileSync(join(dir, "grubenv"), block + "#".repeat(1024 - block.length));

    /** host-facts.sh's sections on this machine, its /boot replaced by the scratch one (a mount namespace of its own). */
    const sections = () => {
      const out = execFileSync(
        "unshare",
        [
          "--mount",
          "bash",
          "-c",
          'mount -t tmpfs none /boot && mkdir /boot/grub && cp "$1"/grub.cfg "$1"/grubenv /boot/grub/ && shift && exec bash -s -- "$@"',
          "_",
          dir,
          ...hostFactsArgs(plan),
        ],
        { input: script, encoding: "utf8", maxBuffer: 64 << 20 },
      );
      const parsed = parseSections(out);
      assert.ok(parsed.complete, out.slice(-500));
      return Object.fromEntries(parsed.sections);
    };
    const bootResults = () =>
      checkHostFacts(sections(), plan, "observed").filter((r) => r.check.startsWith("boot entry"));

    it("prints every declared section, and the boot entry passes", () => {
      const s = sections();
      for (const name of hostSectionsRead(HOST_CHECKS)) assert.ok(Object.hasOwn(s, name), `section ${name}`);
      assert.equal(s["boot-grubby"], "<absent>");
      const results = bootResults();
      assert.deepEqual(
        results.map((r) => [r.check, r.ok]),
        [
          ["boot entry arguments", true],
          ["boot entry kernel", true],
        ],
        formatReport(results),
      );
    });

    it("the e2e fault: an argument dropped from the default entry fails the check naming it; restored, it passes", () => {
      const arg = argToDrop(plan.kernel.args);
      assert.equal(arg, "default_hugepagesz=1G");
      execFileSync("bash", ["-c", dropBootArgScript(arg, cfg, backup)]);
      const dropped = readFileSync(cfg, "utf8");
      assert.equal(
        dropped.split(` ${arg}`).length,
        cfgSaved.split(` ${arg}`).length - 1,
        "only the first linux line lost it",
      );
      const failed = bootResults();
      const a = named(failed, "boot entry arguments");
      assert.equal(a.ok, false);
      assert.equal(a.observed, `grub.cfg's default entry lacks ${arg} (absent)`);
      const fails = (script: string) => assert.throws(() => execFileSync("bash", ["-c", script], { stdio: "pipe" }));
      fails(dropBootArgScript(arg, cfg, backup));
      assert.ok(readFileSync(cfg, "utf8") === dropped, "a second fault does not overwrite the copy");
      execFileSync("bash", ["-c", restoreBootEntryScript(cfg, backup)]);
      assert.ok(readFileSync(cfg, "utf8") === cfg0, "restored byte for byte");
      assert.ok(bootResults().every((r) => r.ok));
      fails(dropBootArgScript("nosuch=1", cfg, backup));
      assert.ok(readFileSync(cfg, "utf8") === cfg0 && !existsSync(backup), "nothing to drop: nothing changed");
    });
  });
});
