/**
 * hostprep/nova-compute.sh and scheduler.sh against the nova.conf Debian's nova-common ships
 * (10,000 lines, nearly all comments), read back with Nova's own oslo.config options.
 */
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { HostPlan } from "../../../lib/plan/host";
import { planStack } from "../../../lib/plan/stack";
import type { TestRoot } from "../../support/debian-root";
import { buildDebianRoot, buildRhelRoot, runScript, show, snapshotDiff, systemPython } from "../../support/debian-root";
import { devHostPlans, devRaw } from "../../support/dev-config";

const CONF = "/etc/nova/nova.conf";

interface NovaView {
  cpu_dedicated_set: string | null;
  cpu_shared_set: string | null;
  reserved_host_memory_mb: number;
  reserved_huge_pages: Record<string, string>[] | null;
  vcpu_pin_set: string | null;
  enabled_filters: string[];
  /**
   * With `cpuCheck`: the error nova-compute's libvirt driver raises at startup for this CPU
   * configuration (LibvirtDriver._check_cpu_set_configuration), or null when it starts.
   */
  cpu_check?: string | null;
}

/**
 * The options as nova-compute and nova-scheduler (python3-nova, Zed 26.2) read each file, in
 * one python3 process (importing Nova's libvirt driver takes seconds).
 */
function novaReadsEach(files: string[], opts: { cpuCheck?: boolean } = {}): NovaView[] {
  const code = `
import json, sys
import nova.conf
from nova import exception
CONF = nova.conf.CONF
check = sys.argv[1] == 'check'
if check:
    from nova.virt.libvirt import driver
views = []
for f in sys.argv[2:]:
    CONF.clear()
    CONF(['--config-file', f], project='nova', default_config_files=[], default_config_dirs=[])
    out = {
        'cpu_dedicated_set': CONF.compute.cpu_dedicated_set,
        'cpu_shared_set': CONF.compute.cpu_shared_set,
        'reserved_host_memory_mb': CONF.reserved_host_memory_mb,
        'reserved_huge_pages': CONF.reserved_huge_pages,
        'vcpu_pin_set': CONF.vcpu_pin_set,
        'enabled_filters': CONF.filter_scheduler.enabled_filters,
    }
    if check:
        try:
            driver.LibvirtDriver._check_cpu_set_configuration(None)
            out['cpu_check'] = None
        except exception.InvalidConfiguration as e:
            out['cpu_check'] = str(e)
    views.append(out)
print(json.dumps(views))`;
  return JSON.parse(systemPython(code, [opts.cpuCheck ? "check" : "no", ...files])) as NovaView[];
}
function novaReads(file: string): NovaView {
  return novaReadsEach([file])[0];
}

/** The compute-side arguments a caller passes for a host plan. */
function computeArgs(plan: HostPlan, root: TestRoot): string[] {
  const args = [
    "--dedicated",
    plan.nova.cpuDedicatedSet,
    "--reserved-host-memory-mb",
    String(plan.nova.reservedHostMemoryMb),
  ];
  if (plan.nova.cpuSharedSet) args.push("--shared", plan.nova.cpuSharedSet);
  if (plan.nova.reservedHugePages.length) args.push("--reserved-huge-pages", plan.nova.reservedHugePages.join(";"));
  return [...args, "--root", root.dir];
}

/** The lines added to and removed from `before` to get `after` (a line diff by LCS on small changes). */
function lineDiff(before: string, after: string): { added: string[]; removed: string[] } {
  const a = before.split("\n");
  const b = after.split("\n");
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const removed = a.slice(start, endA);
  const added = b.slice(start, endB);
  // Several separate edits: the unchanged lines in between cancel out.
  const rem = removed.filter((l) => !added.includes(l));
  const add = added.filter((l) => !removed.includes(l));
  return { added: add, removed: rem };
}

const { debian } = devHostPlans();
let root: TestRoot;
beforeEach(() => {
  root = buildDebianRoot();
});
afterEach(() => root.remove());

describe("nova-compute.sh", () => {
  it("the dev plan: dedicated 4-11, no shared set, 4096 MiB reserved, no reserved pages", () => {
    assert.equal(debian.nova.cpuDedicatedSet, "4-11");
    assert.equal(debian.nova.cpuSharedSet, null);
    assert.equal(debian.nova.reservedHostMemoryMb, 4096);
    assert.deepEqual(debian.nova.reservedHugePages, []);
  });

  it("writes the dev plan into Debian's nova.conf next to each option's documentation, then is unchanged", () => {
    const shipped = root.read(CONF);
    const first = runScript("nova-compute.sh", computeArgs(debian, root));
    assert.equal(first.status, 0, show(first));
    assert.deepEqual(first.tripped, []);
    assert.equal(first.last, "changed");
    assert.ok(
      first.lines.includes(`skipped (--root ${root.dir}): systemctl restart nova-compute.service`),
      show(first),
    );
    const written = root.read(CONF);
    assert.equal(statSync(root.path(CONF)).mode & 0o777, 0o640, "nova.conf keeps its mode (it holds passwords)");
    // Only insertions, each right under its commented-out default.
    const before = shipped.split("\n");
    const after = written.split("\n");
    assert.equal(after.length, before.length + 2);
    assert.equal(after[after.indexOf("#cpu_dedicated_set = <None>") + 1], "cpu_dedicated_set = 4-11");
    assert.equal(after[after.indexOf("#reserved_host_memory_mb = 512") + 1], "reserved_host_memory_mb = 4096");
    assert.deepEqual(
      after.filter((l) => !before.includes(l)),
      ["reserved_host_memory_mb = 4096", "cpu_dedicated_set = 4-11"],
    );
    assert.deepEqual(
      before.filter((l) => !after.includes(l)),
      [],
      "every shipped line is still there",
    );

    const nova = novaReads(root.path(CONF));
    assert.equal(nova.cpu_dedicated_set, "4-11");
    assert.equal(nova.cpu_shared_set, null);
    assert.equal(nova.reserved_host_memory_mb, 4096);
    assert.equal(nova.reserved_huge_pages, null);
    assert.equal(nova.vcpu_pin_set, null);

    const snap = root.snapshot();
    const second = runScript("nova-compute.sh", computeArgs(debian, root));
    assert.equal(second.last, "unchanged", show(second));
    assert.ok(!second.stdout.includes("systemctl"), show(second));
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });

  it("a plan with a shared set and reserved pages: one reserved_huge_pages line per node; taken out again when the plan drops them", () => {
    const raw = devRaw();
    Object.assign(raw.hosts[0], { cpuSharedSet: "housekeeping", reservedHugepages1gPerNode: 1 });
    const r = planStack(raw);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.problems));
    const plan = r.plan.hosts[0];
    assert.equal(plan.nova.cpuSharedSet, "0-3");

    const first = runScript("nova-compute.sh", computeArgs(plan, root));
    assert.equal(first.status, 0, show(first));
    const lines = root.read(CONF).split("\n");
    const at = lines.indexOf("#reserved_huge_pages = <None>");
    assert.deepEqual(lines.slice(at + 1, at + 3), [
      "reserved_huge_pages = node:0,size:1GB,count:1",
      "reserved_huge_pages = node:1,size:1GB,count:1",
    ]);
    root.write("/tmp/nova.conf.with", root.read(CONF));
    assert.equal(runScript("nova-compute.sh", computeArgs(plan, root)).last, "unchanged");

    const back = runScript("nova-compute.sh", computeArgs(debian, root));
    assert.equal(back.last, "changed", show(back));
    assert.ok(back.lines.includes("removed [compute] cpu_shared_set from /etc/nova/nova.conf"), show(back));
    assert.ok(back.lines.includes("removed [DEFAULT] reserved_huge_pages from /etc/nova/nova.conf"), show(back));
    const [nova, again] = novaReadsEach([root.path("/tmp/nova.conf.with"), root.path(CONF)]);
    assert.equal(nova.cpu_shared_set, "0-3");
    assert.deepEqual(nova.reserved_huge_pages, [
      { node: "0", size: "1GB", count: "1" },
      { node: "1", size: "1GB", count: "1" },
    ]);
    assert.equal(again.cpu_shared_set, null);
    assert.equal(again.reserved_huge_pages, null);
  });

  it("removes vcpu_pin_set wherever it is, with its continuation line, and replaces old values in place", () => {
    const text = root
      .read(CONF)
      .replace("#vcpu_pin_set = <None>\n", "#vcpu_pin_set = <None>\nvcpu_pin_set = 4-9,\n    10-11\n")
      .replace("#cpu_dedicated_set = <None>\n", "#cpu_dedicated_set = <None>\ncpu_dedicated_set = 2-11\n")
      .replace("[libvirt]\n", "[libvirt]\nvcpu_pin_set=4-11\nvirt_type = kvm\n")
      .replace("#reserved_host_memory_mb = 512\n", "#reserved_host_memory_mb = 512\nreserved_host_memory_mb: 512\n");
    root.write(CONF, `${text}\n[compute]\ncpu_dedicated_set = 6-11\n`);
    root.write("/tmp/nova.conf.before", root.read(CONF));

    const r = runScript("nova-compute.sh", computeArgs(debian, root));
    assert.equal(r.status, 0, show(r));
    assert.ok(r.lines.includes("removed vcpu_pin_set from [DEFAULT] of /etc/nova/nova.conf"), show(r));
    assert.ok(r.lines.includes("removed vcpu_pin_set from [libvirt] of /etc/nova/nova.conf"), show(r));
    const out = root.read(CONF);
    const diff = lineDiff(text, out);
    assert.deepEqual(
      diff.removed.sort(),
      [
        "    10-11",
        "cpu_dedicated_set = 2-11",
        "reserved_host_memory_mb: 512",
        "vcpu_pin_set = 4-9,",
        "vcpu_pin_set=4-11",
      ].sort(),
    );
    assert.ok(out.includes("#vcpu_pin_set = <None>\n"), "the documentation comment stays");
    assert.ok(out.includes("[libvirt]\nvirt_type = kvm\n"), "the neighbouring option stays");
    assert.equal(
      out.split("\n").filter((l) => l.startsWith("cpu_dedicated_set")).length,
      1,
      "one cpu_dedicated_set line",
    );
    assert.ok(
      out.includes("#cpu_dedicated_set = <None>\ncpu_dedicated_set = 4-11\n"),
      "replaced where the first one was",
    );
    assert.ok(out.endsWith("\n[compute]\n"), "the second [compute] header stays, without its duplicate");
    const [old, nova] = novaReadsEach([root.path("/tmp/nova.conf.before"), root.path(CONF)], { cpuCheck: true });
    assert.match(
      old.cpu_check ?? "",
      /'vcpu_pin_set' .* cannot be defined alongside '\[compute\] cpu_dedicated_set'/,
      "nova-compute refuses to start with the old nova.conf",
    );
    assert.equal(nova.cpu_check, null, "and starts with the edited one");
    assert.equal(nova.vcpu_pin_set, null);
    assert.equal(nova.cpu_dedicated_set, "4-11");
    assert.equal(nova.reserved_host_memory_mb, 4096);
    assert.equal(runScript("nova-compute.sh", computeArgs(debian, root)).last, "unchanged");
  });

  it("adds the [compute] section when a minimal nova.conf has none, and keeps a value that is already right", () => {
    root.write(
      CONF,
      "[DEFAULT]\n# managed by hand\nreserved_host_memory_mb = 4096\ntransport_url = rabbit://nova:secret@controller\n",
    );
    const r = runScript("nova-compute.sh", computeArgs(debian, root));
    assert.equal(r.status, 0, show(r));
    assert.equal(
      root.read(CONF),
      "[DEFAULT]\n# managed by hand\nreserved_host_memory_mb = 4096\ntransport_url = rabbit://nova:secret@controller\n\n[compute]\ncpu_dedicated_set = 4-11\n",
    );
    assert.ok(!r.stdout.includes("reserved_host_memory_mb"), "an equal value is not rewritten");
    assert.ok(!r.stdout.includes("secret"), "other options' values are never printed");
  });

  it("stops, changing nothing, when another config file nova-compute reads sets one of these options", () => {
    root.write(
      "/etc/nova/nova-compute.conf",
      "[DEFAULT]\ncompute_driver=libvirt.LibvirtDriver\nvcpu_pin_set = 4-11\n[libvirt]\nvirt_type=kvm\n",
    );
    const snap = root.snapshot();
    const r = runScript("nova-compute.sh", computeArgs(debian, root));
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /\/etc\/nova\/nova-compute\.conf sets \[DEFAULT\] vcpu_pin_set \(line 3\)/);
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
    // Debian's own nova-compute.conf (no such option) is no obstacle.
    root.write(
      "/etc/nova/nova-compute.conf",
      "[DEFAULT]\ncompute_driver=libvirt.LibvirtDriver\n[libvirt]\nvirt_type=kvm\n",
    );
    assert.equal(runScript("nova-compute.sh", computeArgs(debian, root)).status, 0);
  });

  it("refuses overlapping sets and CPUs the host does not have", () => {
    const snap = root.snapshot();
    const overlap = runScript("nova-compute.sh", [
      "--dedicated",
      "4-11",
      "--shared",
      "0-4",
      "--reserved-host-memory-mb",
      "4096",
      "--root",
      root.dir,
    ]);
    assert.equal(overlap.status, 2, show(overlap));
    assert.match(overlap.stderr, /CPU 4 is in both/);
    const absent = runScript("nova-compute.sh", [
      "--dedicated",
      "4-23",
      "--reserved-host-memory-mb",
      "4096",
      "--root",
      root.dir,
    ]);
    assert.equal(absent.status, 2, show(absent));
    assert.match(absent.stderr, /CPU 12, which is not online/);
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });

  it("restarts openstack-nova-compute on a RHEL host", () => {
    const rhelRoot = buildRhelRoot();
    try {
      rhelRoot.write(CONF, "[DEFAULT]\n[compute]\n");
      const r = runScript("nova-compute.sh", computeArgs(debian, rhelRoot));
      assert.ok(
        r.lines.includes(`skipped (--root ${rhelRoot.dir}): systemctl restart openstack-nova-compute.service`),
        show(r),
      );
    } finally {
      rhelRoot.remove();
    }
  });
});

describe("scheduler.sh", () => {
  const REQUIRED = ["NUMATopologyFilter", "AggregateInstanceExtraSpecsFilter"];

  it("starts from Nova's own default list when the option is unset, then is unchanged", () => {
    root.write("/tmp/nova.conf.before", root.read(CONF));
    const first = runScript("scheduler.sh", ["--root", root.dir]);
    assert.equal(first.status, 0, show(first));
    assert.deepEqual(first.tripped, []);
    assert.equal(first.last, "changed");
    assert.ok(
      first.lines.includes(`skipped (--root ${root.dir}): systemctl restart nova-scheduler.service`),
      show(first),
    );
    const [old, now] = novaReadsEach([root.path("/tmp/nova.conf.before"), root.path(CONF)]);
    const novaDefault = old.enabled_filters;
    assert.deepEqual(novaDefault, [
      "ComputeFilter",
      "ComputeCapabilitiesFilter",
      "ImagePropertiesFilter",
      "ServerGroupAntiAffinityFilter",
      "ServerGroupAffinityFilter",
    ]);
    assert.deepEqual(now.enabled_filters, [...novaDefault, ...REQUIRED]);
    const lines = root.read(CONF).split("\n");
    const at = lines.findIndex((l) => l.startsWith("#enabled_filters = "));
    assert.equal(lines[at + 1], `enabled_filters = ${[...novaDefault, ...REQUIRED].join(",")}`);

    const snap = root.snapshot();
    const second = runScript("scheduler.sh", ["--root", root.dir]);
    assert.equal(second.last, "unchanged", show(second));
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });

  it("keeps an operator's list and its order, continuation lines included, appending what is missing", () => {
    root.write(
      CONF,
      root
        .read(CONF)
        .replace(
          "[filter_scheduler]\n",
          "[filter_scheduler]\nenabled_filters = AvailabilityZoneFilter,\n    ComputeFilter, NUMATopologyFilter,PciPassthroughFilter\n",
        ),
    );
    const r = runScript("scheduler.sh", ["--root", root.dir]);
    assert.equal(r.status, 0, show(r));
    assert.match(r.stdout, /\(added AggregateInstanceExtraSpecsFilter\)/);
    assert.deepEqual(novaReads(root.path(CONF)).enabled_filters, [
      "AvailabilityZoneFilter",
      "ComputeFilter",
      "NUMATopologyFilter",
      "PciPassthroughFilter",
      "AggregateInstanceExtraSpecsFilter",
    ]);
    assert.equal(
      root
        .read(CONF)
        .split("\n")
        .filter((l) => /^\s*enabled_filters|ComputeFilter, NUMA/.test(l)).length,
      1,
    );
  });

  it("leaves a list that already has both filters alone", () => {
    root.write(
      CONF,
      root
        .read(CONF)
        .replace(
          "[filter_scheduler]\n",
          "[filter_scheduler]\nenabled_filters=ComputeFilter,AggregateInstanceExtraSpecsFilter,NUMATopologyFilter\n",
        ),
    );
    const snap = root.snapshot();
    const r = runScript("scheduler.sh", ["--root", root.dir]);
    assert.equal(r.last, "unchanged", show(r));
    assert.deepEqual(snapshotDiff(snap, root.snapshot()), []);
  });
});
