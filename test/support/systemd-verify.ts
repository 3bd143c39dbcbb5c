/**
 * `systemd-analyze verify` of one unit file, reduced to what it says about that unit. The
 * command loads the unit's dependencies (sysinit.target and what this machine wants there) from
 * the machine's own unit directories, and reports their faults too: a package installed on the
 * test machine (keystone, seen) must not fail a test about our unit.
 */
import { spawnSync } from "node:child_process";
import { basename } from "node:path";

export interface UnitVerdict {
  /** systemd-analyze's exit status: non-zero when the unit itself cannot be loaded. */
  status: number | null;
  /** The lines of its report that name this unit (by unit name or file path). */
  complaints: string[];
  /** Everything it printed, for the assertion message. */
  stderr: string;
}

export function verifyUnit(file: string, env: NodeJS.ProcessEnv = process.env): UnitVerdict {
  const r = spawnSync("systemd-analyze", ["verify", file], { encoding: "utf8", env });
  const unit = basename(file);
  const complaints = r.stderr
    .split("\n")
    .filter((line) => line.startsWith(`${unit}:`) || line.startsWith(`${file}:`) || line.includes(` ${unit} `));
  return { status: r.status, complaints, stderr: r.stderr };
}
