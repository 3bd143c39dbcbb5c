/**
 * The host prep steps' arguments, checked in the shapes the scripts accept (hostprep/common.sh
 * is_cpulist, parse_kernel_args, parse_hugepages_unit; nova-compute.sh's reserved_huge_pages
 * entry), so that a value a script would refuse fails the preview instead of a `pulumi up`
 * halfway through. The rules both sides share are lib/hostprep/rules.ts.
 */
import { show } from "../config/problems";
import {
  KERNEL_ARG,
  MAX_CPU_ID,
  MAX_KERNEL_ARG_CHARS,
  MAX_KERNEL_ARGS,
  RESTART_COMMAND_WORDS,
} from "../hostprep/rules";
import { HUGEPAGE_PAIR_KEYS } from "../plan/hugepages";
import { kernelParamName } from "../plan/kernel-param";

export class HostStepError extends Error {
  constructor(host: string, what: string, value: unknown, allowed: string) {
    super(`host ${host}: ${what} is ${show(value)}; ${allowed}`);
    this.name = "HostStepError";
  }
}

const CPU_ID = "(0|[1-9]\\d{0,3})";
const CPU_LIST = new RegExp(`^${CPU_ID}(-${CPU_ID})?(,${CPU_ID}(-${CPU_ID})?)*$`);
const PAGE_ENTRY = "node:(0|[1-9]\\d{0,2}),size:[1-9]\\d{0,7}(KB|kB|MB|GB|K|M|G)?,count:(0|[1-9]\\d{0,5})";
export const PAGE_ENTRIES = new RegExp(`^${PAGE_ENTRY}(;${PAGE_ENTRY})*$`);
const UNIT_ENTRY = "(0|[1-9]\\d{0,2}):(0|[1-9]\\d{0,6}):(1G|2M)";
export const UNIT_ENTRIES = new RegExp(`^${UNIT_ENTRY}(,${UNIT_ENTRY})*$`);
// nova-compute.sh's and scheduler.sh's --conf, as lib/config/schema.ts validates it (no `.`/`..` components, no shell characters).
const CONF_PATH = /^(?!.*\/\.\.?(\/|$))\/[A-Za-z0-9._+-]+(\/[A-Za-z0-9._+-]+)*$/;

export function cpuList(host: string, what: string, value: string): string {
  const ok =
    CPU_LIST.test(value) &&
    value.split(",").every((item) => {
      const [lo, hi = lo] = item.split("-").map(Number);
      return lo <= hi && hi <= MAX_CPU_ID;
    });
  if (!ok) throw new HostStepError(host, what, value, 'expected a kernel CPU list such as "4-11" or "2,4-7"');
  return value;
}

/** The kernel arguments as one `--args` word. */
export function kernelArgs(host: string, args: string[]): string {
  const keys = new Set<string>();
  for (const a of args) {
    if (!KERNEL_ARG.test(a))
      throw new HostStepError(host, "kernel argument", a, "expected key or key=value of letters, digits and _.,:/+@=-");
    if (a.length > MAX_KERNEL_ARG_CHARS)
      throw new HostStepError(
        host,
        "kernel argument",
        a,
        `expected ${MAX_KERNEL_ARG_CHARS} characters at most, not ${a.length}`,
      );
    // hugepagesz/hugepages come in pairs, one pair per page size; every other key once.
    const name = kernelParamName(a);
    const key = HUGEPAGE_PAIR_KEYS.includes(name) ? `${name}=${a.split("=").slice(1).join("=")}` : name;
    if (keys.has(key)) throw new HostStepError(host, "kernel arguments", args, `${key} appears twice`);
    keys.add(key);
  }
  if (args.length > MAX_KERNEL_ARGS)
    throw new HostStepError(host, "the number of kernel arguments", args.length, `${MAX_KERNEL_ARGS} at most`);
  return args.join(" ");
}

export function matching(host: string, what: string, value: string, re: RegExp, allowed: string): string {
  if (!re.test(value)) throw new HostStepError(host, what, value, allowed);
  return value;
}

export function count(host: string, what: string, value: number): string {
  if (!Number.isSafeInteger(value) || value < 0 || value > 999_999_999)
    throw new HostStepError(host, what, value, "expected a whole number");
  return String(value);
}

export function confPath(host: string, value: string): string {
  return matching(host, "nova.configPath", value, CONF_PATH, "expected an absolute path");
}

export function restartCommand(host: string, value: string): string {
  return matching(host, "nova.restartCommand", value, RESTART_COMMAND_WORDS, "expected words separated by spaces");
}
