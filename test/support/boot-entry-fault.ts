/**
 * The boot-entry fault of the host check's tests: one kernel argument dropped from the default
 * entry of a grub.cfg made by update-grub with GRUB_DEFAULT=0 (its first `linux` line), as a
 * kernel update that lost it would leave it; a copy of the file is kept to restore it. Used on
 * the real Debian 12 grub.cfg fixture here and on the e2e host VM.
 */
import { HUGEPAGE_PAIR_KEYS } from "../../lib/plan/hugepages";

const SAFE_ARG = /^[A-Za-z0-9_.,:=/-]+$/;
const SAFE_PATH = /^(\/[A-Za-z0-9._-]+)+$/;

/** A planned argument of the host's own (not TuneD's, not a hugepages pair whose order matters) to drop. */
export function argToDrop(args: readonly string[]): string {
  const arg = args.find((a) => !HUGEPAGE_PAIR_KEYS.includes(a.split("=")[0]));
  if (arg === undefined) throw new Error(`no planned kernel argument besides huge page pairs in ${args.join(" ")}`);
  return arg;
}

/** Bash that drops `arg` from grub.cfg's first `linux` line after copying the file to `backup`; fails, changing nothing, when a fault is already in place or nothing was dropped. */
export function dropBootArgScript(arg: string, cfg = "/boot/grub/grub.cfg", backup = "/root/grub.cfg.fault"): string {
  if (!SAFE_ARG.test(arg)) throw new Error(`argument ${JSON.stringify(arg)} has characters this fault does not quote`);
  for (const p of [cfg, backup]) if (!SAFE_PATH.test(p)) throw new Error(`path ${JSON.stringify(p)} is not plain`);
  const pattern = arg.replace(/[.[\]*^$\\/]/g, "\\$&");
  return [
    "set -euo pipefail",
    `if [[ -e ${backup} ]]; then echo "${backup} exists: a fault is in place, restore it first" >&2; exit 1; fi`,
    `cp -p -- ${cfg} ${backup}`,
    `sed -i '0,/^[[:space:]]*linux[[:space:]]/{/^[[:space:]]*linux[[:space:]]/s/ ${pattern}\\( \\|$\\)/\\1/}' ${cfg}`,
    `if cmp -s -- ${cfg} ${backup}; then rm -f -- ${backup}; echo "no ${arg} on the first linux line of ${cfg}" >&2; exit 1; fi`,
  ].join("\n");
}

/** Bash that puts the copy back. */
export function restoreBootEntryScript(cfg = "/boot/grub/grub.cfg", backup = "/root/grub.cfg.fault"): string {
  for (const p of [cfg, backup]) if (!SAFE_PATH.test(p)) throw new Error(`path ${JSON.stringify(p)} is not plain`);
  return `set -euo pipefail\ncp -p -- ${backup} ${cfg}\nrm -f -- ${backup}`;
}
