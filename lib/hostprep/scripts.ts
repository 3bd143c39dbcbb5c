/**
 * The hostprep scripts as the project ships them: their names, where they live in the checkout,
 * and each step script as one self-contained text for `bash -s` (the libraries it sources
 * inlined), which is what travels to a host over SSH.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * A path under hostprep/ in the checkout (the step scripts and their libraries; verify/ and
 * guest/ below it). A function, not a constant: provider bundles import this module, and the
 * provider host has no __dirname, so nothing may ask for it when the module loads.
 */
export function hostprepPath(...parts: string[]): string {
  return join(__dirname, "..", "..", "hostprep", ...parts);
}

/** The scripts host prep runs, one a step (facts.sh also for discover), in hostprep/. */
export const SCRIPT_NAMES = [
  "facts.sh",
  "packages.sh",
  "tuned.sh",
  "kernel-args.sh",
  "nova-compute.sh",
  "scheduler.sh",
  "reboot.sh",
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];
/** The files hostprep scripts source; `bundleScript` inlines them. */
export const LIBRARIES: readonly string[] = ["common.sh", "ini.sh"];

const SOURCE_LINE =
  /^# shellcheck source-path=SCRIPTDIR source=([a-z-]+\.sh)\n\. "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/([a-z-]+\.sh)"\n/gm;
const bundles = new Map<ScriptName, string>();

/**
 * The script as one self-contained text for `bash -s`: each line that sources a hostprep
 * library (common.sh, ini.sh) is replaced by that library's text. The same files give the same
 * bytes, so an unchanged checkout shows no diff.
 */
export function bundleScript(name: ScriptName): string {
  const cached = bundles.get(name);
  if (cached !== undefined) return cached;
  const text = readFileSync(hostprepPath(name), "utf8");
  const bundle = text.replace(SOURCE_LINE, (_line, directive: string, lib: string) => {
    if (directive !== lib || !LIBRARIES.includes(lib))
      throw new Error(`hostprep/${name} sources ${lib}, which is not a hostprep library (${LIBRARIES.join(", ")})`);
    const body = readFileSync(hostprepPath(lib), "utf8").replace(/^# shellcheck shell=bash\n/, "");
    return `# >>> hostprep/${lib}, inlined for bash -s\n${body}# <<< hostprep/${lib}\n`;
  });
  // A source line in another spelling would look for a file next to a script that has none.
  if (/BASH_SOURCE|^\s*(\.|source)\s/m.test(bundle))
    throw new Error(
      `hostprep/${name} still sources a file after bundling; use the line: . "$(dirname "\${BASH_SOURCE[0]}")/<library>"`,
    );
  bundles.set(name, bundle);
  return bundle;
}
