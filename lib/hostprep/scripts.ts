/**
 * The hostprep scripts as the project ships them: their names, where they live in the checkout,
 * where the copy of hostprep/ lands on a host (one `remote.CopyToRemote` per host, which the steps
 * run from), the files each step runs and their digests, and a step script as one
 * self-contained text for `bash -s` (the libraries it sources inlined), which `npm run discover`
 * sends before anything is copied.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

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
/** The read-only scripts the host check runs from the copy, in hostprep/verify/. */
export type HostCheckScript = "verify/host-facts.sh" | "verify/guest-latency.sh";
/** The files hostprep scripts source: shipped beside them, inlined by `bundleScript`. */
export const LIBRARIES: readonly string[] = ["common.sh", "ini.sh"];

/**
 * Where the copy of hostprep/ goes: `remotePath` of the CopyToRemote, relative to the SSH user's
 * home (where SFTP starts), so that a user who is not root can write it without sudo. The
 * provider copies the directory `hostprep` into it, so the files land in `HOSTPREP_REMOTE_DIR`.
 */
export const HOSTPREP_COPY_PATH = ".openstack-rt";
/** The copy's directory as the remote login shell names it (`$HOME` expanded there, before any sudo). */
export const HOSTPREP_REMOTE_DIR = `"$HOME"/${HOSTPREP_COPY_PATH}/hostprep`;

const SOURCE_LINE =
  /^# shellcheck source-path=SCRIPTDIR source=([a-z-]+\.sh)\n\. "\$\(dirname "\$\{BASH_SOURCE\[0\]\}"\)\/([a-z-]+\.sh)"\n/gm;
const bundles = new Map<ScriptName, string>();
const digests = new Map<string, string>();

/** The libraries a step script sources, in the order it sources them; anything else is refused. */
function sourcedLibraries(name: ScriptName | HostCheckScript, text: string): string[] {
  return [...text.matchAll(SOURCE_LINE)].map(([, directive, lib]) => {
    if (directive !== lib || !LIBRARIES.includes(lib))
      throw new Error(`hostprep/${name} sources ${lib}, which is not a hostprep library (${LIBRARIES.join(", ")})`);
    return lib;
  });
}

/**
 * Exactly what a step (or the host check) runs, as `<file>=<sha256 of its bytes>`: the script
 * first, then the libraries it sources beside it, read from `dir` (the checkout's hostprep/). A
 * step's command carries these, so it re-runs when one of them changes and only then, and checks
 * the copy on the host against them before it runs.
 */
export function stepFiles(name: ScriptName | HostCheckScript, dir: string = hostprepPath()): string[] {
  const text = readFileSync(join(dir, name), "utf8");
  const libraries = sourcedLibraries(name, text).map((lib) => join(dirname(name), lib));
  return [name, ...libraries].map((file) => {
    const path = join(dir, file);
    let digest = digests.get(path);
    if (digest === undefined) {
      digest = createHash("sha256").update(readFileSync(path)).digest("hex");
      digests.set(path, digest);
    }
    return `${file}=${digest}`;
  });
}

/**
 * The script as one self-contained text for `bash -s`: each line that sources a hostprep
 * library (common.sh, ini.sh) is replaced by that library's text. The same files give the same
 * bytes, so an unchanged checkout shows no diff.
 */
export function bundleScript(name: ScriptName): string {
  const cached = bundles.get(name);
  if (cached !== undefined) return cached;
  const text = readFileSync(hostprepPath(name), "utf8");
  sourcedLibraries(name, text);
  const bundle = text.replace(SOURCE_LINE, (_line, _directive: string, lib: string) => {
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
