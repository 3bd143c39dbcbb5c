/**
 * decideStack (lib/desired/decide.ts): config, plan, host prep and cloud decisions in one pass,
 * before anything is registered, with every problem of every stage listed once.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { decideStack } from "../../../lib/desired/decide";
import { planStack } from "../../../lib/plan/stack";
import type { Problem } from "../../../lib/config/problems";
import { devRaw } from "../../support/dev-config";

type Raw = ReturnType<typeof devRaw>;
const dir = mkdtempSync(join(tmpdir(), "decide-stack-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function problems(edit: (raw: Raw) => void): Problem[] {
  const raw = devRaw();
  edit(raw);
  const d = decideStack(raw, dir);
  assert.ok(!d.ok, "expected problems");
  return d.problems;
}

describe("decideStack", () => {
  it("decides the dev stack: the planner's config and plan, and the cloud decisions, in the desired state", () => {
    const d = decideStack(devRaw(), dir);
    assert.ok(d.ok, JSON.stringify(d));
    const p = planStack(devRaw());
    assert.ok(p.ok);
    assert.deepEqual([d.config, d.plan], [p.config, p.plan]);
    assert.deepEqual([d.desired.config, d.desired.plan], [p.config, p.plan]);
    assert.deepEqual(d.desired.image, {
      kind: "url",
      url: "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2",
    });
    assert.deepEqual(
      d.desired.servers.map(({ decision: s }) => [s.name, s.flavor, s.host, s.availabilityZone, s.waitsFor]),
      [["rt-server", "rt1.small", null, undefined, ["compute-rt-01", "compute-rt-02"]]],
    );
    assert.match(d.desired.servers[0].decision.userData, /^#cloud-config\n/);
  });

  it("hashes a local image file relative to the project directory", () => {
    writeFileSync(join(dir, "guest.qcow2"), "image");
    const raw = { ...devRaw(), image: { name: "img", file: "guest.qcow2", loginUser: "debian" } };
    const d = decideStack(raw, dir);
    assert.ok(d.ok, JSON.stringify(d));
    assert.deepEqual(d.desired.image, {
      kind: "file",
      path: "guest.qcow2",
      sha256: "6105d6cc76af400325e94d588ce511be5bfdbb73b437dc51eca43917d7a43e3d",
      md5: "78805a221a988e79ef3f42d7c5bfd418",
    });
  });

  it("lists what both the planner and the cloud checks find once", () => {
    assert.deepEqual(
      problems((raw) => {
        raw.servers[0].flavor = "rt9.huge";
        raw.image = { name: "img", loginUser: "debian" };
      }),
      [
        { path: "openstack-rt:image", message: "got neither file nor url; give exactly one of them" },
        {
          path: "openstack-rt:servers[0].flavor",
          message: 'got "rt9.huge", which is not a flavor of this stack; use one of rt1.small, pin1.medium',
        },
      ],
    );
  });

  it("lists the problems of every stage at once: plan, extra specs, image file, guest setup", () => {
    const found = problems((raw) => {
      raw.flavors[1].vcpus = 12;
      raw.flavors[1].extraSpecs = { "hw:cpu_polcy": "dedicated" };
      raw.image = { name: "jammy", file: "missing.img", loginUser: "ubuntu" };
    });
    assert.deepEqual(
      found.map((p) => p.path),
      ["openstack-rt:flavors[1].extraSpecs", "openstack-rt:image.file", "openstack-rt:image.loginUser"],
    );
    const again = problems((raw) => {
      raw.flavors[1].vcpus = 12;
      raw.image = { name: "jammy", file: "missing.img", loginUser: "ubuntu" };
    });
    assert.deepEqual(
      again.map((p) => p.path),
      ["openstack-rt:flavors[1]", "openstack-rt:image.file", "openstack-rt:image.loginUser"],
    );
    assert.match(again[0].message, /flavor "pin1\.medium" fits on no RT host/);
  });

  it("stops at the schema's problems: nothing else can be checked without a valid config", () => {
    assert.deepEqual(
      problems((raw) => {
        delete raw.network;
        raw.image = { name: "img", file: "missing.img" };
      }).map((p) => p.path),
      ["openstack-rt:network"],
    );
  });

  it("finds what host prep would refuse of a planned host, which ComputeHost would find only after registering itself", () => {
    // 60 NUMA nodes: the per-node hugepages= argument grows past the 256 characters the scripts take.
    const nodes = Array.from({ length: 60 }, (_, id) => ({ id, cpus: `${2 * id},${2 * id + 1}`, memoryMb: 4096 }));
    const found = problems((raw) => {
      raw.hosts.push({
        name: "compute-big",
        ssh: { host: "192.0.2.99" },
        os: "debian-12",
        topology: { nodes },
        housekeepingCpusPerNode: 1,
        hugepages1gPerNode: 1,
      });
    });
    assert.equal(found.length, 1);
    assert.equal(found[0].path, "openstack-rt:hosts[2]");
    assert.match(
      found[0].message,
      /^the host prep scripts refuse its plan \(host compute-big: kernel argument is "hugepages=0:1,1:1,.*; expected 256 characters at most, not \d+\); change the host's settings/,
    );
  });
});
