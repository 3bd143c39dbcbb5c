/**
 * The unit-file check the hostprep tests use (test/support/systemd-verify.ts): a faulty unit of
 * the machine's own, pulled in through sysinit.target as an installed package's would be, is
 * not our unit's fault; a fault in our unit is reported.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { verifyUnit } from "../../support/systemd-verify";

const dir = mkdtempSync(join(tmpdir(), "unit-verify-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A unit directory of "the machine's" with a broken keystone.service wanted by sysinit.target. */
function machineWithBrokenUnit(): NodeJS.ProcessEnv {
  const units = join(dir, "machine");
  mkdirSync(join(units, "sysinit.target.wants"), { recursive: true });
  writeFileSync(
    join(units, "keystone.service"),
    "[Unit]\nDescription=k\nBogus=1\n[Service]\nExecStart=relative/path\n[Install]\nWantedBy=sysinit.target\n",
  );
  symlinkSync(join(units, "keystone.service"), join(units, "sysinit.target.wants", "keystone.service"));
  // The trailing ':' keeps the system's own directories after this one.
  return { ...process.env, SYSTEMD_UNIT_PATH: `${units}:` };
}

function unit(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, body);
  return file;
}

const GOOD =
  "[Unit]\nDescription=ours\n[Service]\nType=oneshot\nExecStart=/bin/true\n[Install]\nWantedBy=sysinit.target\n";

describe("verifyUnit", () => {
  it("ignores what systemd-analyze says about the machine's other units", () => {
    const env = machineWithBrokenUnit();
    const v = verifyUnit(unit("ours-good.service", GOOD), env);
    assert.match(v.stderr, /keystone\.service/, "the machine's broken unit is reported by systemd-analyze");
    assert.equal(v.status, 0, v.stderr);
    assert.deepEqual(v.complaints, []);
  });

  it("reports a fault in the unit itself", () => {
    const v = verifyUnit(unit("ours-bad.service", GOOD.replace("Type=oneshot", "Type=oneshot\nNoSuchKey=1")));
    assert.equal(v.complaints.length, 1, v.stderr);
    assert.match(v.complaints[0], /NoSuchKey/);
  });
});
