/**
 * irqbalance kept off the isolated CPUs. TuneD's [irqbalance] banned_cpus needs the
 * perf Python module, which Debian does not package, so tuned.sh bans the CPUs itself there.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { TestRoot } from "../../support/debian-root";
import { buildDebianRoot, runScript, show } from "../../support/debian-root";
import { devHostPlans } from "../../support/dev-config";

const CONF = "/etc/default/irqbalance";
// Debian 12's irqbalance 1.9.2 ships these lines (commented settings and one active option).
const DEBIAN_DEFAULT = [
  "# irqbalance is a daemon process that distributes interrupts across",
  "#IRQBALANCE_ONESHOT=",
  "#IRQBALANCE_BANNED_CPUS=",
  "#IRQBALANCE_BANNED_CPULIST=",
  'OPTIONS="--policyscript=/etc/irqbalance.d/policy"',
  "",
].join("\n");

describe("tuned.sh keeps irqbalance off the isolated CPUs on Debian", () => {
  let root: TestRoot;
  const cores = devHostPlans().debian.tuned.isolatedCores;
  const args = () => ["--profile", "realtime-virtual-host", "--isolated-cores", cores, "--root", root.dir];
  beforeEach(() => {
    root = buildDebianRoot();
  });
  afterEach(() => root.remove());

  it("sets IRQBALANCE_BANNED_CPULIST once, replaces an older mask, keeps the rest, and is idempotent", () => {
    root.write(CONF, DEBIAN_DEFAULT + "IRQBALANCE_BANNED_CPUS=00000ff0\n");
    const first = runScript("tuned.sh", args());
    assert.equal(first.status, 0, show(first));
    assert.deepEqual(first.tripped, []);
    assert.ok(first.lines.includes(`set IRQBALANCE_BANNED_CPULIST=${cores} in ${CONF}`), show(first));
    assert.ok(first.lines.includes(`skipped (--root ${root.dir}): systemctl try-restart irqbalance.service`));
    assert.equal(root.read(CONF), DEBIAN_DEFAULT + `IRQBALANCE_BANNED_CPULIST=${cores}\n`);
    // As irqbalance reads it: the file is a shell environment file.
    const env = runScript("../test/support/print-env.sh", [root.path(CONF)]);
    assert.match(env.stdout, new RegExp(`^IRQBALANCE_BANNED_CPULIST=${cores}$`, "m"));
    assert.doesNotMatch(env.stdout, /^IRQBALANCE_BANNED_CPUS=/m);

    root.write("/etc/tuned/active_profile", "realtime-virtual-host\n");
    const second = runScript("tuned.sh", args());
    assert.equal(second.status, 0, show(second));
    assert.equal(second.last, "unchanged");
    assert.ok(!second.lines.some((l) => l.includes("irqbalance")), show(second));
  });

  it("says so when irqbalance is not installed", () => {
    const r = runScript("tuned.sh", args());
    assert.equal(r.status, 0, show(r));
    assert.ok(r.lines.includes(`irqbalance is not installed (${CONF} missing): no IRQ balancer to keep off ${cores}`));
    assert.equal(root.exists(CONF), false);
  });
});
