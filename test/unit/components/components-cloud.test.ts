/**
 * The decisions the cloud components only carry out (lib/desired/cloud.ts, lib/desired/image-source.ts): the image's source and checksum, the
 * security group's rules, a server's availability zone, and which hosts a server waits for.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ingressRules } from "../../../components/cloud/security-group";
import type { StackConfig } from "../../../lib/config/schema";
import { sshFromAnywhere } from "../../../lib/config/warnings";
import { decideCloud, NOVA_DEFAULT_ZONE, serverAvailabilityZone } from "../../../lib/desired/cloud";
import { imageSource, SHA256_PROPERTY } from "../../../lib/desired/image-source";
import { planStack } from "../../../lib/plan/stack";
import { devRaw } from "../../support/dev-config";

const dir = mkdtempSync(join(tmpdir(), "components-cloud-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function planned(edit: (raw: ReturnType<typeof devRaw>) => void = () => {}) {
  const raw = devRaw();
  edit(raw);
  const r = planStack(raw);
  if (!r.ok) assert.fail(r.problems.map((p) => `${p.path}: ${p.message}`).join("\n"));
  return r;
}

const image = (patch: Partial<StackConfig["image"]>): StackConfig["image"] => ({
  ...planned().config.image,
  url: undefined,
  ...patch,
});

describe("imageSource", () => {
  it("hashes a local file, relative to the project directory, and keeps the path as configured", () => {
    mkdirSync(join(dir, "images"), { recursive: true });
    // Bigger than one read chunk, so the chunked hash is checked against the one-shot one.
    const data = randomBytes((4 << 20) + 12345);
    writeFileSync(join(dir, "images", "guest.qcow2"), data);
    const r = imageSource(image({ file: "images/guest.qcow2" }), dir);
    assert.deepEqual(r, {
      ok: true,
      source: {
        kind: "file",
        path: "images/guest.qcow2",
        sha256: createHash("sha256").update(data).digest("hex"),
        md5: createHash("md5").update(data).digest("hex"),
      },
    });
  });

  it("takes an absolute path as it is, and a URL without reading anything", () => {
    writeFileSync(join(dir, "abs.img"), "x");
    const abs = imageSource(image({ file: join(dir, "abs.img") }), "/nonexistent");
    assert.ok(abs.ok && abs.source.kind === "file");
    const url = imageSource(image({ url: "https://example.org/guest.qcow2" }), "/nonexistent");
    assert.deepEqual(url, { ok: true, source: { kind: "url", url: "https://example.org/guest.qcow2" } });
  });

  it("refuses a missing file, a directory, and the checksum property set by hand", () => {
    const missing = imageSource(image({ file: "nope.qcow2" }), dir);
    assert.ok(!missing.ok);
    assert.equal(
      missing.problem.message,
      `got "nope.qcow2" (${join(dir, "nope.qcow2")}), which does not exist; give the path of the image file, relative to the project directory or absolute`,
    );
    const directory = imageSource(image({ file: "images" }), dir);
    assert.ok(!directory.ok);
    assert.match(directory.problem.message, /which is not a regular file/);
    const reserved = imageSource(image({ url: "https://example.org/x", properties: { [SHA256_PROPERTY]: "0" } }), dir);
    assert.ok(!reserved.ok);
    assert.equal(reserved.problem.path, `openstack-rt:image.properties.${SHA256_PROPERTY}`);
  });
});

describe("the security group's rules", () => {
  const sg = (sshCidr: string, icmpCidr: string) => ({ name: "g", sshCidr, icmpCidr, allowSshFromAnywhere: false });

  it("lets ICMP and SSH in from their own CIDRs, IPv4 or IPv6", () => {
    assert.deepEqual(
      ingressRules(sg("198.51.100.0/24", "2001:db8::/32")).map((r) => [
        r.role,
        r.ethertype,
        r.protocol,
        r.port,
        r.cidr,
      ]),
      [
        ["icmp", "IPv6", "ipv6-icmp", null, "2001:db8::/32"],
        ["ssh", "IPv4", "tcp", 22, "198.51.100.0/24"],
      ],
    );
  });

  it("knows when SSH is open to every address", () => {
    assert.equal(sshFromAnywhere(sg("0.0.0.0/0", "0.0.0.0/0")), true);
    assert.equal(sshFromAnywhere(sg("::/0", "192.0.2.0/24")), true);
    assert.equal(sshFromAnywhere(sg("10.0.0.0/8", "0.0.0.0/0")), false);
  });
});

describe("serverAvailabilityZone", () => {
  it("pins with zone:host, in Nova's default zone when the aggregate has none", () => {
    assert.equal(serverAvailabilityZone("rt-zone", "compute-b"), "rt-zone:compute-b");
    assert.equal(serverAvailabilityZone(undefined, "compute-b"), `${NOVA_DEFAULT_ZONE}:compute-b`);
    assert.equal(serverAvailabilityZone("rt-zone", null), "rt-zone");
    assert.equal(serverAvailabilityZone(undefined, null), undefined);
  });
});

describe("decideCloud", () => {
  it("a server waits for its pinned host, or for every host it fits", () => {
    const { config, plan } = planned((raw) => {
      raw.hosts.push({ ...raw.hosts[1], name: "compute-rt-03" });
      raw.hosts.push({ ...raw.hosts[1], name: "compute-rt-04", housekeepingCpusPerNode: 5 });
      raw.servers.push({ name: "pinned", flavor: "rt1.small", host: "compute-rt-02" });
    });
    const d = decideCloud(config, plan, dir);
    assert.ok(d.ok, JSON.stringify(d));
    assert.deepEqual(
      d.cloud.servers.map((s) => [s.name, s.waitsFor]),
      [
        // compute-rt-04 keeps one CPU per node for guests: rt1.small never lands there.
        ["rt-server", ["compute-rt-01", "compute-rt-02", "compute-rt-03"]],
        ["pinned", ["compute-rt-02"]],
      ],
    );
    assert.equal(d.cloud.servers[0].userData, d.cloud.servers[1].userData, "one user data per flavor");
  });

  it("returns every problem at once", () => {
    const { config, plan } = planned();
    const bad = { ...config, image: { ...config.image, url: undefined, file: "missing.qcow2", loginUser: "admin" } };
    const d = decideCloud(bad, plan, dir);
    assert.ok(!d.ok);
    assert.deepEqual(
      d.problems.map((p) => p.path),
      ["openstack-rt:image.file", "openstack-rt:image.loginUser"],
    );
  });

  it("leaves an image with neither file nor url, and a server of an unknown flavor, to the config's rules", () => {
    const { config, plan } = planned();
    const bad = { ...config, image: { ...config.image, url: undefined }, servers: [{ name: "s", flavor: "nope" }] };
    assert.deepEqual(decideCloud(bad, plan, dir), { ok: false, problems: [] });
    const unknownFlavor = { ...config, servers: [{ name: "s", flavor: "nope" }] };
    assert.deepEqual(decideCloud(unknownFlavor, plan, dir), { ok: false, problems: [] });
    const missingFile = { ...bad, image: { ...bad.image, file: "missing.qcow2" } };
    const own = decideCloud(missingFile, plan, dir);
    assert.ok(!own.ok);
    assert.deepEqual(
      own.problems.map((p) => p.path),
      ["openstack-rt:image.file"],
      "its own problems are still listed",
    );
  });
});
