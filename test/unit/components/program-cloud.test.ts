/**
 * The program's cloud objects under the SDK's mocks, evaluated the way index.ts does it (config
 * -> decideStack -> RtCloud): every resource with its inputs, parents, dependencies and replacement
 * options for the dev stack and for test/fixtures/stacks/Pulumi.two-flavors.yaml; the same
 * inputs on every evaluation; a flavor change touching only that flavor and its servers; bad
 * input stopped before anything is registered.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it, mock } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { specialSecretSig, specialSigKey } from "@pulumi/pulumi/runtime/rpc";
import type { HostReadiness } from "../../../components/cloud/rt-cloud";
import { RtCloud } from "../../../components/cloud/rt-cloud";
import { cloudInitUserData, withSshHostKey } from "../../../lib/desired/cloud-init";
import { guestSetup } from "../../../lib/desired/guest-setup";
import { CONFIG_NAMESPACE, parseStackConfig } from "../../../lib/config/schema";
import { decideStack } from "../../../lib/desired/decide";
import type { CloudOutputs } from "../../../lib/render/outputs";
import type { Problem } from "../../../lib/config/problems";
import { formatProblems } from "../../../lib/config/problems";
import { planFromPulumiConfig } from "../../../lib/desired/from-pulumi";
import { readStackConfig } from "../../../lib/config/stack-files";
import { devFlavor, devRaw, PROJECT_DIR } from "../../support/dev-config";
import { mockedGuestHostKey } from "../../support/mock-state";
import { onRegister } from "../../support/mock-monitor";
import { setProgramMocks } from "../../support/mocks";

type Raw = ReturnType<typeof devRaw>;

interface Registered {
  type: string;
  name: string;
  /** `type name` of the parent, null for the top. */
  parent: string | null;
  inputs: Record<string, unknown>;
  /** `type name` of every resource it waits for. */
  dependsOn: string[];
  replaceOnChanges: string[];
  deleteBeforeReplace: boolean;
}

interface Evaluation {
  resources: Registered[];
  outputs?: CloudOutputs;
  error?: unknown;
  warnings: string[];
}

/** `type name` of a URN: urn:pulumi:<stack>::<project>::<parent types$>type::name. */
function urnKey(urn: string): string {
  const [, , types, name] = urn.split("::");
  return `${types.split("$").at(-1)} ${name}`;
}

/** A server's user data: a secret input, as the mocks see it. */
const userDataOf = (r: Registered) => String((r.inputs.userData as { value?: unknown }).value);

const scratch = mkdtempSync(join(tmpdir(), "program-cloud-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

function twoFlavorsRaw(): Raw {
  const raw = readStackConfig(PROJECT_DIR, join(PROJECT_DIR, "test", "fixtures", "stacks", "Pulumi.two-flavors.yaml"));
  assert.deepEqual(raw.problems, []);
  return structuredClone(raw.values) as Raw;
}

/** Stands in for a host's prep and checks, which other components build. */
class HostReady extends pulumi.CustomResource {
  constructor(name: string) {
    super("test:host:Ready", name, {});
  }
}

/**
 * Runs what index.ts runs (config -> decideStack -> RtCloud) under fresh mocks and waits for every
 * registration. `readiness` stands in for host prep and host checks: one resource per host, and
 * the host's aggregate name resolved from it.
 */
async function evaluate(
  raw: Record<string, unknown>,
  opts: { readiness?: boolean; projectDir?: string } = {},
): Promise<Evaluation> {
  const resources: Registered[] = [];
  const inputs = new Map<string, Record<string, unknown>>();
  await setProgramMocks({
    projectId: "project-of-the-credentials",
    onResource: (a) => inputs.set(`${a.type} ${a.name}`, a.inputs as Record<string, unknown>),
  });
  onRegister((req) => {
    resources.push({
      type: req.getType(),
      name: req.getName(),
      parent: req.getParent() ? urnKey(req.getParent()) : null,
      inputs: {},
      dependsOn: req.getDependenciesList().map(urnKey),
      replaceOnChanges: req.getReplaceonchangesList(),
      deleteBeforeReplace: req.getDeletebeforereplace(),
    });
  });
  pulumi.runtime.setAllConfig(
    Object.fromEntries(Object.entries(raw).map(([k, v]) => [`${CONFIG_NAMESPACE}:${k}`, JSON.stringify(v)])),
  );
  const warn = mock.method(pulumi.log, "warn", () => Promise.resolve());
  const result: Evaluation = { resources, warnings: [] };
  try {
    const desired = planFromPulumiConfig(new pulumi.Config(), opts.projectDir);
    let hostReadiness: Record<string, HostReadiness> | undefined;
    if (opts.readiness) {
      hostReadiness = Object.fromEntries(
        desired.config.hosts.map((h) => {
          const ready = new HostReady(`ready-${h.name}`);
          return [h.name, { resources: [ready], aggregateHost: ready.id.apply(() => h.name) }];
        }),
      );
    }
    const cloud = new RtCloud("openstack-rt", { desired, hostReadiness });
    result.outputs = await new Promise<CloudOutputs>((resolve) => pulumi.output(cloud.outputs).apply(resolve));
  } catch (e) {
    result.error = e;
  }
  await pulumi.runtime.disconnect();
  result.warnings = warn.mock.calls.map((c) => String(c.arguments[0]));
  warn.mock.restore();
  for (const r of resources) r.inputs = inputs.get(`${r.type} ${r.name}`) ?? {};
  return result;
}

function devImage() {
  const parsed = parseStackConfig(devRaw());
  assert.ok(parsed.ok);
  return parsed.config.image;
}

function byName(ev: Evaluation, name: string, type?: string): Registered {
  const found = ev.resources.filter(
    (r) => r.name === name && (type === undefined || r.type === type) && !r.type.startsWith("openstack-rt:"),
  );
  assert.equal(found.length, 1, `one resource ${name}`);
  return found[0];
}

function assertNoError(ev: Evaluation): void {
  if (ev.error !== undefined) assert.fail(ev.error instanceof Error ? ev.error.message : JSON.stringify(ev.error));
}

const AGG = "openstack:compute/aggregateV2:AggregateV2";
const FLAVOR = "openstack:compute/flavor:Flavor";
const IMAGE = "openstack:images/image:Image";
const SECGROUP = "openstack:networking/secGroup:SecGroup";
const RULE = "openstack:networking/secGroupRule:SecGroupRule";
const KEYPAIR = "openstack:compute/keypair:Keypair";
const INSTANCE = "openstack:compute/instance:Instance";

describe("the dev stack", () => {
  it("registers exactly these resources, each under its component, with these inputs", async () => {
    const ev = await evaluate(devRaw());
    assertNoError(ev);
    // As a set: registration order depends on when each resource's inputs (and aliases) resolve.
    const sorted = (rows: unknown[][]) => rows.map((r) => JSON.stringify(r)).sort();
    assert.deepEqual(
      sorted(ev.resources.map((r) => [r.type, r.name, r.parent])),
      sorted([
        ["openstack-rt:cloud:RtCloud", "openstack-rt", null],
        ["openstack-rt:aggregate:RtAggregate", "openstack-rt", "openstack-rt:cloud:RtCloud openstack-rt"],
        ["openstack-rt:flavor:RtFlavor", "openstack-rt-rt1.small", "openstack-rt:cloud:RtCloud openstack-rt"],
        ["openstack-rt:flavor:RtFlavor", "openstack-rt-pin1.medium", "openstack-rt:cloud:RtCloud openstack-rt"],
        ["openstack-rt:image:RtImage", "openstack-rt", "openstack-rt:cloud:RtCloud openstack-rt"],
        ["openstack-rt:security-group:RtSecurityGroup", "openstack-rt", "openstack-rt:cloud:RtCloud openstack-rt"],
        ["openstack-rt:keypair:RtKeypair", "openstack-rt", "openstack-rt:cloud:RtCloud openstack-rt"],
        ["openstack-rt:server:RtServer", "openstack-rt-rt-server", "openstack-rt:cloud:RtCloud openstack-rt"],
        [SECGROUP, "openstack-rt-secgroup", "openstack-rt:security-group:RtSecurityGroup openstack-rt"],
        [KEYPAIR, "openstack-rt-keypair", "openstack-rt:keypair:RtKeypair openstack-rt"],
        [AGG, "openstack-rt-aggregate", "openstack-rt:aggregate:RtAggregate openstack-rt"],
        [IMAGE, "openstack-rt-image", "openstack-rt:image:RtImage openstack-rt"],
        [FLAVOR, "openstack-rt-rt1.small-flavor", "openstack-rt:flavor:RtFlavor openstack-rt-rt1.small"],
        [FLAVOR, "openstack-rt-pin1.medium-flavor", "openstack-rt:flavor:RtFlavor openstack-rt-pin1.medium"],
        [RULE, "openstack-rt-icmp", "openstack-rt:security-group:RtSecurityGroup openstack-rt"],
        [RULE, "openstack-rt-ssh", "openstack-rt:security-group:RtSecurityGroup openstack-rt"],
        [
          "pulumi-nodejs:dynamic/guest:GuestHostKey",
          "openstack-rt-rt-server-host-key",
          "openstack-rt:server:RtServer openstack-rt-rt-server",
        ],
        [INSTANCE, "openstack-rt-rt-server-instance", "openstack-rt:server:RtServer openstack-rt-rt-server"],
      ]),
    );
    assert.deepEqual(byName(ev, "openstack-rt-aggregate").inputs, {
      name: "realtime",
      hosts: ["compute-rt-01", "compute-rt-02"],
      metadata: { realtime: "true" },
    });
    // The Nova name carries the flavor's revision (lib/desired/rollout.ts flavorRevisionName).
    const { name: rt1Name, ...rt1Inputs } = byName(ev, "openstack-rt-rt1.small-flavor").inputs;
    assert.match(String(rt1Name), /^rt1\.small\.r[0-9a-f]{8}$/);
    assert.deepEqual(rt1Inputs, {
      vcpus: 4,
      ram: 4096,
      disk: 20,
      isPublic: true,
      extraSpecs: {
        "aggregate_instance_extra_specs:realtime": "true",
        "hw:cpu_policy": "dedicated",
        "hw:cpu_realtime": "yes",
        "hw:cpu_realtime_mask": "^0-1",
        "hw:mem_page_size": "1GB",
        "hw:numa_nodes": "1",
        "hw:pmu": "false",
      },
    });
    // The seeds' pinned-only flavor: dedicated CPUs, thread isolation, no realtime, no page size.
    const { name: pin1Name, ...pin1Inputs } = byName(ev, "openstack-rt-pin1.medium-flavor").inputs;
    assert.match(String(pin1Name), /^pin1\.medium\.r[0-9a-f]{8}$/);
    assert.deepEqual(pin1Inputs, {
      vcpus: 2,
      ram: 2048,
      disk: 20,
      isPublic: true,
      extraSpecs: {
        "aggregate_instance_extra_specs:realtime": "true",
        "hw:cpu_policy": "dedicated",
        "hw:cpu_thread_policy": "isolate",
        "hw:numa_nodes": "1",
        "hw:pmu": "false",
      },
    });
    assert.deepEqual(byName(ev, "openstack-rt-image").inputs, {
      name: "debian-12-rt",
      diskFormat: "qcow2",
      containerFormat: "bare",
      imageSourceUrl: "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2",
      properties: {},
    });
    assert.deepEqual(byName(ev, "openstack-rt-secgroup").inputs, {
      name: "rt-ssh-icmp",
      description: "openstack-rt: ICMP and SSH to the RT servers",
    });
    assert.deepEqual(byName(ev, "openstack-rt-icmp").inputs, {
      securityGroupId: "openstack-rt-secgroup-id",
      direction: "ingress",
      ethertype: "IPv4",
      protocol: "icmp",
      remoteIpPrefix: "198.51.100.0/24",
      description: "openstack-rt: ICMP to the RT servers",
    });
    assert.deepEqual(byName(ev, "openstack-rt-ssh").inputs, {
      securityGroupId: "openstack-rt-secgroup-id",
      direction: "ingress",
      ethertype: "IPv4",
      protocol: "tcp",
      portRangeMin: 22,
      portRangeMax: 22,
      remoteIpPrefix: "198.51.100.0/24",
      description: "openstack-rt: SSH to the RT servers",
    });
    assert.deepEqual(byName(ev, "openstack-rt-keypair").inputs, {
      name: "default-key",
      publicKey:
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIyuP98ngAEBPe57pnyHFSeDTEz3JQEQkk1Nfcy+XNbT operator@example.org",
    });
    const rt1 = devFlavor("rt1.small");
    assert.deepEqual(byName(ev, "openstack-rt-rt-server-instance").inputs, {
      name: "rt-server",
      flavorId: "openstack-rt-rt1.small-flavor-id",
      imageId: "openstack-rt-image-id",
      keyPair: "default-key",
      securityGroups: ["rt-ssh-icmp"],
      networks: [{ name: "provider-net" }],
      // Secret: it holds the guest's private host key.
      userData: {
        [specialSigKey]: specialSecretSig,
        value: withSshHostKey(
          cloudInitUserData(rt1, guestSetup(rt1, devImage(), "debian")),
          mockedGuestHostKey("openstack-rt-rt-server-host-key"),
        ),
      },
      configDrive: true,
    });
    assert.match(
      userDataOf(byName(ev, "openstack-rt-rt-server-instance")),
      /^runcmd:\n {2}- - \/usr\/local\/sbin\/openstack-rt-guest-setup\n {4}- debian\n {4}- 2-3\n/m,
    );
  });

  it("replaces flavors and servers the way Nova needs: a new flavor revision first, each server deleted before its replacement", async () => {
    const ev = await evaluate(devRaw());
    const opts = (name: string) => {
      const r = byName(ev, name);
      return { replaceOnChanges: r.replaceOnChanges, deleteBeforeReplace: r.deleteBeforeReplace };
    };
    assert.deepEqual(opts("openstack-rt-rt1.small-flavor"), { replaceOnChanges: ["name"], deleteBeforeReplace: false });
    assert.deepEqual(opts("openstack-rt-rt-server-instance"), {
      replaceOnChanges: ["flavorId", "imageId"],
      deleteBeforeReplace: true,
    });
    assert.deepEqual(opts("openstack-rt-image"), {
      replaceOnChanges: ["properties.openstack_rt_source_sha256"],
      deleteBeforeReplace: false,
    });
    assert.deepEqual(opts("openstack-rt-aggregate"), { replaceOnChanges: [], deleteBeforeReplace: false });
  });

  it("creates the server after the aggregate, the security group and its rules, and the prep and checks of both hosts", async () => {
    const ev = await evaluate(devRaw(), { readiness: true });
    assertNoError(ev);
    assert.deepEqual(byName(ev, "openstack-rt-rt-server-instance").dependsOn.sort(), [
      `${AGG} openstack-rt-aggregate`,
      `${FLAVOR} openstack-rt-rt1.small-flavor`,
      `${KEYPAIR} openstack-rt-keypair`,
      `${IMAGE} openstack-rt-image`,
      `${SECGROUP} openstack-rt-secgroup`,
      `${RULE} openstack-rt-icmp`,
      `${RULE} openstack-rt-ssh`,
      "pulumi-nodejs:dynamic/guest:GuestHostKey openstack-rt-rt-server-host-key",
      "test:host:Ready ready-compute-rt-01",
      "test:host:Ready ready-compute-rt-02",
    ]);
    // A host joins the aggregate once its prep says it is ready.
    assert.deepEqual(byName(ev, "openstack-rt-aggregate").dependsOn.sort(), [
      "test:host:Ready ready-compute-rt-01",
      "test:host:Ready ready-compute-rt-02",
    ]);
    assert.deepEqual(byName(ev, "openstack-rt-aggregate").inputs.hosts, ["compute-rt-01", "compute-rt-02"]);
  });

  it("exports what other stacks read", async () => {
    const ev = await evaluate(devRaw());
    assertNoError(ev);
    assert.deepEqual(ev.outputs, {
      aggregate: {
        id: "openstack-rt-aggregate-id",
        name: "realtime",
        hosts: ["compute-rt-01", "compute-rt-02"],
        zone: null,
        metadata: { realtime: "true" },
      },
      flavors: {
        "rt1.small": {
          id: "openstack-rt-rt1.small-flavor-id",
          name: "rt1.small",
          vcpus: 4,
          ramMb: 4096,
          diskGb: 20,
          isPublic: true,
          extraSpecs: devFlavor("rt1.small").extraSpecs,
          realtimeVcpus: "2-3",
          housekeepingVcpus: "0-1",
        },
        "pin1.medium": {
          id: "openstack-rt-pin1.medium-flavor-id",
          name: "pin1.medium",
          vcpus: 2,
          ramMb: 2048,
          diskGb: 20,
          isPublic: true,
          extraSpecs: devFlavor("pin1.medium").extraSpecs,
          realtimeVcpus: "",
          housekeepingVcpus: "0-1",
        },
      },
      image: { id: "openstack-rt-image-id", name: "debian-12-rt", sha256: null },
      keypair: { name: "default-key", fingerprint: "SHA256:test" },
      securityGroup: { id: "openstack-rt-secgroup-id", name: "rt-ssh-icmp" },
      servers: {
        "rt-server": {
          id: "openstack-rt-rt-server-instance-id",
          name: "rt-server",
          flavor: "rt1.small",
          flavorId: "openstack-rt-rt1.small-flavor-id",
          host: null,
          accessIpV4: ev.outputs?.servers["rt-server"].accessIpV4,
          floatingIp: null,
          loginUser: "debian",
          hostKey: mockedGuestHostKey("openstack-rt-rt-server-host-key").publicKey,
        },
      },
    });
    assert.match(ev.outputs?.servers["rt-server"].accessIpV4 ?? "", /^10\.0\.0\.\d+$/);
  });
});

describe("the two-flavors stack (two flavors, three servers)", () => {
  it("opens the private flavor to the credentials' project only", async () => {
    const ev = await evaluate(twoFlavorsRaw());
    assertNoError(ev);
    const access = ev.resources.filter((r) => r.type === "openstack:compute/flavorAccess:FlavorAccess");
    assert.deepEqual(
      access.map((r) => [r.name, r.parent, r.inputs]),
      [
        [
          "openstack-rt-rt2.private-access",
          "openstack-rt:flavor:RtFlavor openstack-rt-rt2.private",
          { flavorId: "openstack-rt-rt2.private-flavor-id", tenantId: "project-of-the-credentials" },
        ],
      ],
    );
    assert.equal(byName(ev, "openstack-rt-rt2.private-flavor").inputs.isPublic, false);
    assert.deepEqual(byName(ev, "openstack-rt-rt2.medium-flavor").inputs.extraSpecs, {
      "aggregate_instance_extra_specs:realtime": "true",
      "aggregate_instance_extra_specs:tier": "gold",
      "hw:cpu_policy": "dedicated",
      "hw:cpu_realtime": "yes",
      "hw:cpu_realtime_mask": "^0",
      "hw:emulator_threads_policy": "isolate",
      "hw:mem_page_size": "1GB",
      "hw:numa_nodes": "1",
      "hw:pmu": "false",
    });
  });

  it("puts the aggregate in its zone, pins rt-b with zone:host, and gives rt-a a floating IP", async () => {
    const ev = await evaluate(twoFlavorsRaw());
    assertNoError(ev);
    assert.deepEqual(byName(ev, "openstack-rt-aggregate").inputs, {
      name: "rt-two",
      hosts: ["compute-a", "compute-b", "compute-c"],
      zone: "rt-zone",
      metadata: { realtime: "true", tier: "gold" },
    });
    const az = (s: string) => byName(ev, `openstack-rt-${s}-instance`).inputs.availabilityZone;
    assert.deepEqual([az("rt-a"), az("rt-b"), az("rt-c")], ["rt-zone", "rt-zone:compute-b", "rt-zone"]);
    assert.deepEqual(byName(ev, "openstack-rt-rt-a-fip").inputs, { pool: "public" });
    const assoc = byName(ev, "openstack-rt-rt-a-fip-assoc");
    assert.equal(assoc.inputs.instanceId, "openstack-rt-rt-a-instance-id");
    assert.match(String(assoc.inputs.floatingIp), /^203\.0\.113\.\d+$/);
    assert.equal(assoc.parent, "openstack-rt:server:RtServer openstack-rt-rt-a");
    assert.equal(ev.resources.filter((r) => r.type.includes("loatingIp")).length, 2, "only rt-a has a floating IP");
    assert.equal(ev.outputs?.servers["rt-a"].floatingIp, assoc.inputs.floatingIp);
    assert.equal(ev.outputs?.servers["rt-b"].host, "compute-b");
    assert.equal(ev.outputs?.servers["rt-c"].floatingIp, null);
  });

  it("waits for the hosts each server can land on, naming each host once: later servers wait through the chain", async () => {
    const ev = await evaluate(twoFlavorsRaw(), { readiness: true });
    assertNoError(ev);
    const direct = (s: string) =>
      byName(ev, `openstack-rt-${s}-instance`)
        .dependsOn.filter((d) => d.startsWith("test:"))
        .sort();
    // What a server's instance waits for, directly or through the instances it waits for.
    const waited = (s: string): string[] => {
      const seen = new Set<string>();
      const visit = (name: string) => {
        for (const d of byName(ev, name).dependsOn) {
          if (seen.has(d)) continue;
          seen.add(d);
          if (d.startsWith("openstack:compute/instance:Instance ")) visit(d.split(" ")[1]);
        }
      };
      visit(`openstack-rt-${s}-instance`);
      return [...seen].filter((d) => d.startsWith("test:")).sort();
    };
    const all = [
      "test:host:Ready ready-compute-a",
      "test:host:Ready ready-compute-b",
      "test:host:Ready ready-compute-c",
    ];
    assert.deepEqual(direct("rt-a"), all);
    assert.deepEqual(direct("rt-b"), [], "rt-a, before it, waited for its pinned host");
    assert.deepEqual(direct("rt-c"), []);
    for (const s of ["rt-a", "rt-b", "rt-c"]) assert.deepEqual(waited(s), all, s);
    // A pinned server first in the chain waits for its own host only, and the next one for the rest.
    const pinnedFirst = twoFlavorsRaw();
    pinnedFirst.servers = [pinnedFirst.servers[1], pinnedFirst.servers[0], pinnedFirst.servers[2]];
    const ev2 = await evaluate(pinnedFirst, { readiness: true });
    assertNoError(ev2);
    const direct2 = (s: string) =>
      byName(ev2, `openstack-rt-${s}-instance`)
        .dependsOn.filter((d) => d.startsWith("test:"))
        .sort();
    assert.deepEqual(direct2("rt-b"), ["test:host:Ready ready-compute-b"]);
    assert.deepEqual(direct2("rt-a"), ["test:host:Ready ready-compute-a", "test:host:Ready ready-compute-c"]);
  });

  it("sets the Rocky Linux guests up with the RHEL family's packages and each flavor's RT vCPUs", async () => {
    const ev = await evaluate(twoFlavorsRaw());
    assertNoError(ev);
    const ud = (s: string) => userDataOf(byName(ev, `openstack-rt-${s}-instance`));
    const setup = (s: string) => ud(s).replace(/\nssh_keys:\n(?: {2}.*\n)+/, "\n");
    assert.equal(setup("rt-a"), setup("rt-b"), "servers of one flavor get the same setup");
    assert.notEqual(ud("rt-a"), ud("rt-b"), "each server gets a host key of its own");
    assert.match(ud("rt-a"), /^ {2}- - \/usr\/local\/sbin\/openstack-rt-guest-setup\n {4}- rhel\n {4}- 1-3\n/m);
    assert.match(ud("rt-c"), /^ {2}- - \/usr\/local\/sbin\/openstack-rt-guest-setup\n {4}- rhel\n {4}- "?1"?\n/m);
  });

  it("opens SSH to the IPv6 network and ICMP to the IPv4 one", async () => {
    const ev = await evaluate(twoFlavorsRaw());
    const rule = (role: string) => {
      const { ethertype, protocol, remoteIpPrefix } = byName(ev, `openstack-rt-${role}`).inputs;
      return { ethertype, protocol, remoteIpPrefix };
    };
    assert.deepEqual(rule("ssh"), { ethertype: "IPv6", protocol: "tcp", remoteIpPrefix: "2001:db8::/32" });
    assert.deepEqual(rule("icmp"), { ethertype: "IPv4", protocol: "icmp", remoteIpPrefix: "192.0.2.0/24" });
    assert.deepEqual(
      ev.warnings.filter((w) => w.includes("securityGroup")),
      [],
      "documentation ranges are no public reach",
    );
  });

  it("warns when SSH is open to every address, which needs allowSshFromAnywhere", async () => {
    const raw = twoFlavorsRaw();
    (raw.securityGroup as Record<string, unknown>).sshCidr = "::/0";
    const refused = await evaluate(raw);
    assert.ok(pulumi.RunError.isInstance(refused.error));
    assert.match(refused.error.message, /securityGroup\.sshCidr: got "::\/0", which opens SSH to the whole internet/);
    (raw.securityGroup as Record<string, unknown>).allowSshFromAnywhere = true;
    const ev = await evaluate(raw);
    assertNoError(ev);
    const sg = ev.warnings.filter((w) => w.includes("securityGroup"));
    assert.equal(sg.length, 1);
    assert.match(
      sg[0],
      /^openstack-rt:securityGroup\.sshCidr: "::\/0" reaches \(nearly\) every address on the internet: .*allowSshFromAnywhere is set/,
    );
  });
});

describe("no perpetual diffs", () => {
  const snapshot = (ev: Evaluation) =>
    new Map(
      ev.resources.map((r) => [
        `${r.type} ${r.name}`,
        JSON.stringify({
          inputs: r.inputs,
          parent: r.parent,
          deps: [...r.dependsOn].sort(),
          roc: r.replaceOnChanges,
          dbr: r.deleteBeforeReplace,
        }),
      ]),
    );
  const changed = (a: Evaluation, b: Evaluation) => {
    const sa = snapshot(a);
    const sb = snapshot(b);
    assert.deepEqual([...sa.keys()].sort(), [...sb.keys()].sort(), "the same resources");
    return [...sa.keys()].filter((k) => sa.get(k) !== sb.get(k)).sort();
  };

  it("two evaluations of the same config register the same resources with the same inputs", async () => {
    for (const raw of [devRaw, twoFlavorsRaw]) {
      const a = await evaluate(raw(), { readiness: true });
      const b = await evaluate(raw(), { readiness: true });
      assertNoError(a);
      assert.deepEqual(changed(a, b), []);
    }
  });

  it("changing one flavor changes that flavor and its servers, and nothing else", async () => {
    const before = await evaluate(twoFlavorsRaw());
    const raw = twoFlavorsRaw();
    raw.flavors[0].ramMb = 6144;
    const after = await evaluate(raw);
    assertNoError(after);
    assert.deepEqual(changed(before, after), [
      `${FLAVOR} openstack-rt-rt2.medium-flavor`,
      `${INSTANCE} openstack-rt-rt-a-instance`,
      `${INSTANCE} openstack-rt-rt-b-instance`,
    ]);
    // The servers change through their user data, which carries the flavor's plan.
    assert.notEqual(
      userDataOf(byName(before, "openstack-rt-rt-a-instance")),
      userDataOf(byName(after, "openstack-rt-rt-a-instance")),
    );

    const masked = twoFlavorsRaw();
    masked.flavors[1].realtime = { mask: "^1" };
    const after2 = await evaluate(masked);
    assertNoError(after2);
    assert.deepEqual(changed(before, after2), [
      `${FLAVOR} openstack-rt-rt2.private-flavor`,
      `${INSTANCE} openstack-rt-rt-c-instance`,
    ]);
  });

  it("a changed image file changes the image's checksum property, which replaces the image", async () => {
    const file = join(scratch, "guest.qcow2");
    const raw = () => ({ ...devRaw(), image: { name: "debian-12-rt", file: "guest.qcow2", loginUser: "debian" } });
    writeFileSync(file, "first image");
    const a = await evaluate(raw(), { projectDir: scratch });
    writeFileSync(file, "second image");
    const b = await evaluate(raw(), { projectDir: scratch });
    assertNoError(b);
    assert.deepEqual(changed(a, b), [`${IMAGE} openstack-rt-image`]);
    const sha = (s: string) => createHash("sha256").update(s).digest("hex");
    assert.deepEqual(byName(b, "openstack-rt-image").inputs, {
      name: "debian-12-rt",
      diskFormat: "qcow2",
      containerFormat: "bare",
      localFilePath: "guest.qcow2",
      properties: { openstack_rt_source_sha256: sha("second image") },
    });
    assert.equal(b.outputs?.image.sha256, sha("second image"));
    assert.equal(
      (byName(a, "openstack-rt-image").inputs.properties as Record<string, string>).openstack_rt_source_sha256,
      sha("first image"),
    );
  });
});

describe("bad input: a clear error before any resource is registered", () => {
  /**
   * The program's error, a RunError (printed without a stack trace), and the problems it lists:
   * decideStack's for the same config, each once.
   */
  async function refused(
    edit: (raw: Raw) => void,
    raw: Raw = devRaw(),
  ): Promise<{ message: string; problems: Problem[] }> {
    edit(raw);
    const ev = await evaluate(raw, { projectDir: scratch });
    assert.deepEqual(ev.resources, [], "nothing registered");
    assert.ok(pulumi.RunError.isInstance(ev.error), `a RunError, got ${String(ev.error)}`);
    const decided = decideStack(raw, scratch);
    assert.ok(!decided.ok);
    const message = ev.error.message;
    assert.equal(message, formatProblems(decided.problems));
    return { message, problems: decided.problems };
  }

  it("a server whose flavor fits no host", async () => {
    const e = await refused((raw) => {
      raw.hosts[0].housekeepingCpusPerNode = 4;
      raw.servers[0].host = "compute-rt-01";
    });
    assert.deepEqual(e.problems, [
      {
        path: "openstack-rt:servers[0]",
        message: 'flavor "rt1.small" fits on no host "compute-rt-01"; pick another flavor or host',
      },
    ]);
    const f = await refused((raw) => {
      raw.flavors[0].vcpus = 6;
    });
    assert.match(f.message, /openstack-rt:flavors\[0\]: flavor "rt1.small" fits on no RT host/);
  });

  it("an image file that does not exist, or is a directory", async () => {
    const e = await refused((raw) => {
      raw.image = { name: "debian-12-rt", file: "images/missing.qcow2" };
    });
    assert.equal(e.problems.length, 1);
    assert.equal(e.problems[0].path, "openstack-rt:image.file");
    assert.match(
      e.problems[0].message,
      /^got "images\/missing\.qcow2" \(.*\/images\/missing\.qcow2\), which does not exist; give the path of the image file/,
    );
    const d = await refused((raw) => {
      raw.image = { name: "debian-12-rt", file: "." };
    });
    assert.match(d.problems[0].message, /which is not a regular file/);
  });

  it("a keypair without a key", async () => {
    const e = await refused((raw) => {
      raw.keypair = { name: "default-key" };
    });
    assert.deepEqual(
      e.problems.map((p) => p.path),
      ["openstack-rt:keypair.publicKey"],
    );
    assert.match(e.message, /keypair\.publicKey: got nothing \(the setting is required\)/);
  });

  it("a CIDR that is not one", async () => {
    const e = await refused((raw) => {
      (raw.securityGroup as Record<string, unknown>).sshCidr = "198.51.100.0";
    });
    assert.deepEqual(e.problems, [
      {
        path: "openstack-rt:securityGroup.sshCidr",
        message:
          'got "198.51.100.0"; must be a CIDR such as 192.0.2.0/24 or 2001:db8::/32 (IPv4 parts 0-255 without leading zeros, a valid IPv6 address, a prefix length up to 32 or 128)',
      },
    ]);
  });

  it("an image the RT guest setup cannot handle, listed with the other problems", async () => {
    const e = await refused((raw) => {
      raw.image = { name: "jammy", file: "missing.img", loginUser: "ubuntu" };
    });
    assert.deepEqual(
      e.problems.map((p) => p.path),
      ["openstack-rt:image.file", "openstack-rt:image.loginUser"],
    );
    assert.match(
      e.problems[1].message,
      /servers on "rt1\.small" need an RT kernel, and Ubuntu's comes only with Ubuntu Pro/,
    );
  });
});
