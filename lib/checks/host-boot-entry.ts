/**
 * The default boot entry against the plan: what the next boot starts. /proc/cmdline says what the
 * running kernel was given; a kernel update or an edit since then may have made an entry without
 * the planned arguments or with another kernel, which only the next reboot would show.
 * RHEL-family hosts answer with `grubby --info=DEFAULT` (BLS entries); Debian and Ubuntu with
 * GRUB's grub.cfg, read as GRUB reads it: the default from grubenv's next_entry, else grub.cfg's
 * `set default` (with ${saved_entry} from grubenv), resolved by index, id or title through
 * submenus, and the entry's `linux` line with its variables ($tuned_params) expanded.
 */
import type { HostPlan } from "../plan/host";
import { checkCmdline } from "./host-cmdline";
import { hostCheck } from "./host-check";
import type { CheckResult } from "./result";
import { excerpt, fail, verdict } from "./result";

export interface BootEntry {
  /** Where it was read: "grubby" or "grub.cfg". */
  source: "grubby" | "grub.cfg";
  /** The entry's kernel image, e.g. /boot/vmlinuz-6.1.0-28-rt-amd64. */
  kernel: string;
  /** The arguments the entry passes, with GRUB variables expanded. */
  args: string;
}

export type BootEntryRead = { ok: true; entry: BootEntry } | { ok: false; reason: string };

/** `grub-editenv list` or grubenv's own lines: name=value per line, the `#` padding skipped. */
export function parseGrubenv(text: string): Map<string, string> {
  const env = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) env.set(m[1], m[2]);
  }
  return env;
}

/** Replaces $name and ${name} as GRUB does; an unset variable is empty. */
function expand(text: string, vars: ReadonlyMap<string, string>): string {
  return text
    .replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_m, a?: string, b?: string) => {
      return vars.get(a ?? b ?? "") ?? "";
    })
    .replace(/\s+/g, " ")
    .trim();
}

/** `grubby --info=DEFAULT`: its index=, kernel="..." and args="..." lines (grubby's print_info). */
export function grubbyDefaultEntry(info: string, env: ReadonlyMap<string, string>): BootEntryRead {
  const fields = new Map<string, string>();
  for (const line of info.split("\n")) {
    const m = /^(index|kernel|args)=(.*)$/.exec(line.trim());
    if (!m) continue;
    // One entry only: --info=DEFAULT prints one; a second index= would be another entry.
    if (m[1] === "index" && fields.has("index")) break;
    fields.set(m[1], m[2].replace(/^"(.*)"$/, "$1"));
  }
  const kernel = fields.get("kernel");
  if (kernel === undefined || !fields.has("args"))
    return { ok: false, reason: `grubby --info=DEFAULT printed no kernel and args: ${excerpt(info, 100)}` };
  // TuneD's kernel-install hook appends $tuned_params to each BLS entry and keeps its value in grubenv.
  return {
    ok: true,
    entry: { source: "grubby", kernel, args: expand(fields.get("args") ?? "", env) },
  };
}

interface MenuEntry {
  kind: "entry";
  title: string;
  id: string;
  linux: string | null;
}
interface Submenu {
  kind: "submenu";
  title: string;
  id: string;
  items: MenuItem[];
}
type MenuItem = MenuEntry | Submenu;

/** The single-quoted or double-quoted words and bare words of a grub.cfg line. */
function words(line: string): string[] {
  return (line.match(/'[^']*'|"[^"]*"|[^\s'"]+/g) ?? []).map((w) => w.replace(/^(['"])(.*)\1$/, "$2"));
}

/** A menuentry or submenu line's title (its first argument) and id (after --id / $menuentry_id_option). */
function titleAndId(line: string): { title: string; id: string } {
  const w = words(line.trim().replace(/\{\s*$/, ""));
  const at = w.findIndex((x) => x === "--id" || x === "$menuentry_id_option");
  return { title: w[1] ?? "", id: at > 0 ? (w[at + 1] ?? "") : "" };
}

/** The menu of grub.cfg, the variables it sets outside entries, and the default it sets. */
function parseGrubCfg(cfg: string): { menu: MenuItem[]; sets: Map<string, string>; defaults: string[] } {
  const menu: MenuItem[] = [];
  const sets = new Map<string, string>();
  const defaults: string[] = [];
  let conditional = 0;
  // Open blocks: a submenu's items, an entry, or another braced block (a function).
  const stack: (Submenu | MenuEntry | null)[] = [];
  const items = () => {
    for (let i = stack.length - 1; i >= 0; i--) {
      const b = stack[i];
      if (b?.kind === "submenu") return b.items;
    }
    return menu;
  };
  for (const raw of cfg.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (/^(menuentry|submenu)\s/.test(line) && line.endsWith("{")) {
      const { title, id } = titleAndId(line);
      const item: MenuItem = line.startsWith("submenu")
        ? { kind: "submenu", title, id, items: [] }
        : { kind: "entry", title, id, linux: null };
      items().push(item);
      stack.push(item);
      continue;
    }
    if (line.endsWith("{")) {
      stack.push(null);
      continue;
    }
    if (line === "}") {
      stack.pop();
      continue;
    }
    const entry = stack.at(-1);
    if (entry?.kind === "entry") {
      if (/^linux(16|efi)?\s/.test(line) && entry.linux === null) entry.linux = line;
      continue;
    }
    if (stack.length > 0) continue;
    // A one-line `if ...; then ...; fi` opens and closes on the same line.
    if (/^if\s/.test(line) && !/;\s*fi$/.test(line)) conditional++;
    else if (line === "fi") conditional--;
    const set = /^set\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!set) continue;
    const value = words(set[2]).join(" ");
    // 00_header sets default in both branches of an if: each is a candidate. Other variables
    // count where they are set unconditionally (00_tuned's tuned_params), not in a branch that
    // depends on the boot (prev_saved_entry, a failed boot's recordfail).
    if (set[1] === "default") defaults.push(value);
    else if (conditional === 0) sets.set(set[1], value);
  }
  return { menu, sets, defaults };
}

/** Follows a GRUB default ("0", "1>2", an id or a title, parts joined by ">") through the menu. */
function resolve(menu: MenuItem[], path: string): MenuEntry | string {
  let items = menu;
  const parts = path.split(">");
  for (const [i, part] of parts.entries()) {
    const item = /^\d+$/.test(part) ? items[Number(part)] : items.find((x) => x.id === part || x.title === part);
    if (item === undefined) return `no menu item ${JSON.stringify(part)}`;
    if (i === parts.length - 1) return item.kind === "entry" ? item : `${JSON.stringify(part)} is a submenu`;
    if (item.kind !== "submenu") return `${JSON.stringify(part)} is not a submenu`;
    items = item.items;
  }
  return "an empty default";
}

/** The entry GRUB boots next from this grub.cfg and grubenv. */
export function grubCfgDefaultEntry(cfg: string, env: ReadonlyMap<string, string>): BootEntryRead {
  const { menu, sets, defaults } = parseGrubCfg(cfg);
  if (menu.length === 0) {
    const why = /^\s*blscfg\b/m.test(cfg)
      ? "it boots BLS entries (blscfg), which grubby reads: install grubby"
      : "it has no menu entry";
    return { ok: false, reason: `grub.cfg: ${why}` };
  }
  // 00_header: a one-time next_entry (grub-reboot) wins; else the last `set default` that is not it.
  const configured = defaults.filter((d) => d !== "${next_entry}").at(-1) ?? "0";
  const vars = new Map([...env, ...sets]);
  const next = env.get("next_entry") ?? "";
  const wanted = next !== "" ? next : expand(configured, vars) || "0";
  const found = resolve(menu, wanted);
  if (typeof found === "string")
    return { ok: false, reason: `grub.cfg's default ${JSON.stringify(wanted)} names no boot entry: ${found}` };
  if (found.linux === null)
    return { ok: false, reason: `grub.cfg's default entry ${JSON.stringify(found.title)} has no linux line` };
  const [, kernel = "", ...rest] = words(found.linux);
  return { ok: true, entry: { source: "grub.cfg", kernel, args: expand(rest.join(" "), vars) } };
}

// Kernel release names of RT builds: Debian 6.1.0-28-rt-amd64, RHEL 8 4.18.0-513.rt7.302.el8,
// RHEL 9 5.14.0-427.13.1.el9_4.x86_64+rt, Ubuntu 6.8.1-1015-realtime (as reboot.sh's is_rt_release).
const RT_RELEASE = /(^|[-.+_])(rt[0-9]*|realtime)([-.+_]|$)/;

/** The release a kernel image path names: /boot/vmlinuz-6.1.0-28-rt-amd64 -> 6.1.0-28-rt-amd64. */
function kernelRelease(kernel: string): string {
  return kernel.replace(/^.*\/vmlinuz-/, "");
}

/** The default entry read from the sections: grubby where the host has it, else grub.cfg. */
export function defaultBootEntry(grubby: string, grubCfg: string, grubenv: string): BootEntryRead {
  const env = parseGrubenv(grubenv);
  if (grubby.trim() !== "<absent>") return grubbyDefaultEntry(grubby, env);
  if (grubCfg.trim() !== "<absent>") return grubCfgDefaultEntry(grubCfg, env);
  return { ok: false, reason: "neither grubby nor /boot/grub/grub.cfg or /boot/grub2/grub.cfg is on the host" };
}

export function checkBootEntry(read: BootEntryRead, plan: HostPlan): CheckResult[] {
  if (!read.ok)
    return [
      fail(
        "boot entry",
        "the default boot entry's kernel and arguments",
        read.reason,
        "the next boot cannot be checked: read the default entry by hand (grubby --info=DEFAULT, or grub.cfg's default)",
      ),
    ];
  const { entry } = read;
  const release = kernelRelease(entry.kernel);
  const fix =
    entry.source === "grubby"
      ? `the next boot (grubby's default entry ${release}) would lose them: rerun the host step (kernel-args.sh adds the project's arguments with grubby --update-kernel), and \`tuned-adm profile ${plan.tuned.profile}\` re-adds TuneD's $tuned_params; do not reboot before this check passes`
      : `the next boot (grub.cfg's default entry ${release}) would lose them: run update-grub after the host step (kernel-args.sh keeps them in GRUB_CMDLINE_LINUX, TuneD appends $tuned_params to GRUB_CMDLINE_LINUX_DEFAULT); do not reboot before this check passes`;
  // The same arguments, compared the same way, as the running kernel's command line.
  const lost = checkCmdline(entry.args, plan).filter((r) => !r.ok);
  const results = [
    verdict(
      "boot entry arguments",
      lost.length === 0,
      `the planned ${plan.kernel.args.length + plan.kernel.tunedArgs.length} arguments in the default entry`,
      lost.length === 0
        ? `all in ${entry.source}'s default entry (${release})`
        : `${entry.source}'s default entry lacks ${lost.map((r) => `${r.expected} (${r.observed})`).join(", ")}`,
      fix,
    ),
  ];
  if (plan.tuned.profile !== "cpu-partitioning")
    results.push(
      verdict(
        "boot entry kernel",
        RT_RELEASE.test(release),
        "an RT kernel in the default entry",
        release || excerpt(entry.kernel),
        `the next boot would start ${release}, not an RT kernel: make the RT kernel the default entry (RHEL: grubby --set-default /boot/vmlinuz-<rt release>; Debian/Ubuntu: GRUB_DEFAULT=0 with the RT kernel the newest, then update-grub)`,
      ),
    );
  return results;
}

export const bootEntryCheck = /* @__PURE__ */ hostCheck({
  sections: ["boot-grubby", "boot-grub-cfg", "boot-grubenv"],
  kind: "observed",
  check: (f, plan) => checkBootEntry(defaultBootEntry(f["boot-grubby"], f["boot-grub-cfg"], f["boot-grubenv"]), plan),
});
