/**
 * 2 MiB host pages beside the 1 GiB ones: the planner's counts, checks and kernel
 * arguments, Nova's reserved pages, the host check, the domain expectation and the renderings.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { expectationFromPlan } from "../../../lib/checks/domain-expectation";
import { checkHugepages, checkHugetlbfsMounts } from "../../../lib/checks/host-hugepages";
import { renderPlan } from "../../../lib/render/plan-text";
import { renderForTool } from "../../../lib/render/tool-formats";
import { planStack } from "../../../lib/plan/stack";
import { devRaw } from "../../support/dev-config";

type Raw = ReturnType<typeof devRaw>;

function planned(edit: (raw: Raw) => void) {
  const raw = devRaw();
  edit(raw);
  return planStack(raw);
}
function ok(edit: (raw: Raw) => void) {
  const r = planned(edit);
  if (!r.ok) throw new Error(r.problems.map((p) => `${p.path}: ${p.message}`).join("\n"));
  return r.plan;
}
function problems(edit: (raw: Raw) => void) {
  const r = planned(edit);
  assert.ok(!r.ok, "expected the plan to be refused");
  return r.problems;
}
const both = (raw: Raw) => raw.hosts.forEach((h) => (h.hugepages2mPerNode = [512, 256]));

describe("planning 2 MiB pages", () => {
  it("Debian (per-node counts on the command line): a second hugepagesz/hugepages pair after the 1 GiB one, and a mount for libvirt", () => {
    const host = ok(both).hosts[0];
    assert.deepEqual(host.kernel.args, [
      "default_hugepagesz=1G",
      "hugepagesz=1G",
      "hugepages=0:4,1:4",
      "hugepagesz=2M",
      "hugepages=0:512,1:256",
    ]);
    assert.deepEqual(
      host.hugepages.sizes.map((s) => [s.name, s.sizeKb, s.perNode.map((n) => n.count)]),
      [
        ["1G", 1048576, [4, 4]],
        ["2M", 2048, [512, 256]],
      ],
    );
    assert.equal(host.hugepages.defaultSize, "1G");
    assert.deepEqual(host.hugepages.extraMounts, ["2M"]);
    assert.deepEqual(
      host.nodes.map((n) => n.hugepages2m),
      [512, 256],
    );
  });

  it("RHEL 9 (boot unit): the command line names both sizes without counts; the unit reserves them", () => {
    const host = ok(both).hosts[1];
    // hugepagesz=2M: kernels before 5.7 have no 2 MiB pool beside a 1 GiB default without it.
    assert.deepEqual(host.kernel.args, ["default_hugepagesz=1G", "hugepagesz=1G", "hugepagesz=2M"]);
    assert.equal(host.hugepages.method, "boot-unit");
  });

  it("a host with 2 MiB pages only makes them the default size and needs no second mount", () => {
    const host = ok((raw) => Object.assign(raw.hosts[0], { hugepages1gPerNode: 0, hugepages2mPerNode: 1024 })).hosts[0];
    assert.deepEqual(host.kernel.args, ["default_hugepagesz=2M", "hugepagesz=2M", "hugepages=0:1024,1:1024"]);
    assert.deepEqual(host.hugepages.extraMounts, []);
  });

  it("without 2 MiB pages nothing changes for existing hosts", () => {
    const host = ok(() => {}).hosts[0];
    assert.deepEqual(host.kernel.args, ["default_hugepagesz=1G", "hugepagesz=1G", "hugepages=0:4,1:4"]);
    assert.deepEqual(
      host.hugepages.sizes.map((s) => s.name),
      ["1G"],
    );
    assert.deepEqual(host.nova.reservedHugePages, []);
  });

  it("reserves 2 MiB pages in Nova as the plan's spelling, after the 1 GiB ones", () => {
    const host = ok((raw) => {
      both(raw);
      Object.assign(raw.hosts[0], { reservedHugepages1gPerNode: 1, reservedHugepages2mPerNode: 64 });
    }).hosts[0];
    assert.deepEqual(host.nova.reservedHugePages, [
      "node:0,size:1GB,count:1",
      "node:1,size:1GB,count:1",
      "node:0,size:2MB,count:64",
      "node:1,size:2MB,count:64",
    ]);
  });

  it("refuses pages that do not fit beside the 1 GiB ones, naming the setting, the node and how many fit", () => {
    const p = problems((raw) => (raw.hosts[0].hugepages2mPerNode = [6000, 0]));
    assert.deepEqual(
      p.map((x) => x.path),
      ["openstack-rt:hosts[0].hugepages2mPerNode"],
    );
    assert.match(
      p[0].message,
      /got 6000 pages of 2 MiB beside 4 of 1 GiB on NUMA node 0 \(16096 MiB\), which has 16384 MiB; at most 5632 pages of 2 MiB fit/,
    );
  });

  it("refuses a wrong number of counts, more reserved pages than there are, and pages on an all-housekeeping node", () => {
    assert.match(
      problems((raw) => (raw.hosts[0].hugepages2mPerNode = [1, 2, 3]))[0].message,
      /got 3 counts for 2 NUMA nodes/,
    );
    const reserved = problems((raw) =>
      Object.assign(raw.hosts[0], { reservedHugepages2mPerNode: 300, hugepages2mPerNode: 256 }),
    );
    assert.equal(reserved[0].path, "openstack-rt:hosts[0].reservedHugepages2mPerNode");
    assert.match(
      reserved[0].message,
      /got 300, more than the 256 pages of 2 MiB node 0 gets; reserve at most hugepages2mPerNode/,
    );
    const idle = problems((raw) =>
      Object.assign(raw.hosts[0], {
        isolatedCpus: "2,4,6,8,10",
        hugepages1gPerNode: [4, 0],
        hugepages2mPerNode: [0, 64],
      }),
    );
    assert.equal(idle[0].path, "openstack-rt:hosts[0].hugepages2mPerNode");
    assert.match(idle[0].message, /give that node 0 pages \(hugepages2mPerNode: \[0, 0\]\)/);
  });

  it("places a 2MB flavor that no host could take before, and says what to set when the hosts have none", () => {
    const flavor = { name: "pin2m", vcpus: 2, ramMb: 1024, realtime: false, pageSize: "2MB" };
    const before = problems((raw) => raw.flavors.push(flavor));
    assert.match(before.map((p) => p.message).join("\n"), /give the hosts 2 MiB pages \(hugepages2mPerNode\)/);
    const after = ok((raw) => {
      both(raw);
      raw.flavors.push(flavor);
    });
    assert.deepEqual(
      after.flavors.find((f) => f.name === "pin2m")!.hosts.map((h) => [h.host, h.capacity]),
      // 1 GiB of guest memory is 512 pages of 2 MiB: node 0 has them, node 1 (256) does not.
      [
        ["compute-rt-01", 1],
        ["compute-rt-02", 1],
      ],
    );
  });
});

describe("checking 2 MiB pages on the host", () => {
  const host = ok(both).hosts[0];
  const sysfs = (c: Record<string, number>) =>
    Object.entries(c)
      .map(([k, v]) => {
        const [node, kb] = k.split("/");
        return `/sys/devices/system/node/node${node}/hugepages/hugepages-${kb}kB/nr_hugepages:${v}`;
      })
      .join("\n");

  it("passes with every size's counts, and names a node short of 2 MiB pages with the fix", () => {
    const good = { "0/1048576": 4, "1/1048576": 4, "0/2048": 512, "1/2048": 256 };
    assert.ok(checkHugepages(sysfs(good), host).every((r) => r.ok));
    const short = checkHugepages(sysfs({ ...good, "1/2048": 100 }), host).find((r) => !r.ok)!;
    assert.equal(short.check, "2M pages node 1");
    assert.equal(short.observed, "100");
    assert.match(
      short.hint,
      /node 1 has 100 pages of 2 MiB, the plan needs 256: check hugepagesz=2M hugepages=0:512,1:256/,
    );
  });

  it("needs the 2 MiB hugetlbfs mount, and says what a host without it shows", () => {
    const mounts = (...lines: string[]) => lines.join("\n");
    const def = "hugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=1024M 0 0";
    assert.ok(
      checkHugetlbfsMounts(mounts(def, "hugetlbfs /dev/hugepages2M hugetlbfs rw,relatime,pagesize=2M 0 0"), host)[0].ok,
    );
    const missing = checkHugetlbfsMounts(mounts(def), host)[0];
    assert.equal(missing.ok, false);
    assert.equal(missing.observed, "only /dev/hugepages (pagesize=1024M)");
    assert.match(missing.hint, /systemctl status dev-hugepages2M.mount/);
    assert.deepEqual(checkHugetlbfsMounts(mounts(def), ok(() => {}).hosts[0]), [], "no second size, no mount check");
  });
});

describe("the guest's page size with both sizes on the host", () => {
  const plan = ok(both);
  const host = plan.hosts[0];
  const flavorOf = (ramMb: number, pageSize: string) =>
    ok((raw) => {
      both(raw);
      raw.flavors.push({ name: "f", vcpus: 1, ramMb, realtime: false, pageSize });
    }).flavors.find((f) => f.name === "f")!;

  it("large takes 1 GiB pages when the memory is whole gigabytes and 2 MiB pages otherwise, as Nova tries them", () => {
    assert.equal(expectationFromPlan(host, flavorOf(2048, "large")).pageSizeKb, 1048576);
    assert.equal(expectationFromPlan(host, flavorOf(512, "large")).pageSizeKb, 2048);
    assert.equal(expectationFromPlan(host, flavorOf(512, "2MB")).pageSizeKb, 2048);
  });
});

describe("rendering 2 MiB pages", () => {
  const plan = ok(both);

  it("npm run plan names both sizes and the mount", () => {
    const text = renderPlan("dev", plan);
    const lines = text.split("\n");
    assert.match(lines[3], /1G pages +reserved +2M pages +reserved +memory MiB$/);
    assert.match(lines[5], /^ {2}1 .* 4 +0 +256 +0 +16384$/);
    assert.doesNotMatch(
      renderPlan(
        "dev",
        ok(() => {}),
      ),
      /2M pages/,
      "no 2 MiB columns without 2 MiB pages",
    );
    assert.match(
      text,
      /hugepages: node0=4 node1=4 x 1 GiB, node0=512 node1=256 x 2 MiB, per-node counts on the kernel command line; hugetlbfs \/dev\/hugepages2M for libvirt/,
    );
  });

  it("TripleO gets each size's total for the boot-unit host and a note about the mount", () => {
    const out = renderForTool("tripleo", "dev", plan);
    assert.match(out, /KernelArgs: "default_hugepagesz=1G hugepagesz=1G hugepages=8 hugepagesz=2M hugepages=768"/);
    assert.match(out, /# NOTE: compute-rt-02 plans uneven 2M page counts per node \(512, 256\)/);
    assert.match(
      out,
      /# NOTE: compute-rt-01 has 2M pages beside its default 1G pages: mount them \(hugetlbfs at \/dev\/hugepages2M with pagesize=2M\)/,
    );
  });

  it("kolla keeps the mount on the host side and reserves 2 MiB pages in nova.conf", () => {
    const out = renderForTool(
      "kolla",
      "dev",
      ok((raw) => {
        both(raw);
        raw.hosts[0].reservedHugepages2mPerNode = 8;
      }),
    );
    assert.match(out, /reserved_huge_pages = node:1,size:2MB,count:8/);
    assert.match(out, /# {3}hugetlbfs mount \/dev\/hugepages2M \(pagesize=2M\) for libvirt/);
  });
});
