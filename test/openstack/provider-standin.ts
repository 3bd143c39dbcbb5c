/**
 * A STAND-IN for the OpenStack provider plugin (pulumi-openstack, which bridges
 * terraform-provider-openstack), for `npm run test:openstack` only: neither the Pulumi CLI nor
 * the plugin can be had here. The program runs under the SDK's mocks, and each `openstack:*`
 * resource it registers is created here on the real test cloud with exactly its registered
 * inputs, the way the Terraform provider's create function does it (each mapping cites the file
 * of github.com/terraform-provider-openstack/terraform-provider-openstack it follows, as of
 * commit 27f26125); the real ids and outputs go back to the program. Only create is needed: the
 * test applies one fresh stack; it deletes what it created (`destroy`) in reverse order.
 *
 * Deviation, because the cloud has no Neutron (test/openstack/network.ts says why): a server's
 * `networks` (a network name the Terraform provider would look up in Neutron) becomes
 * `networks: "none"` (the provider's `network_mode = "none"`, microversion 2.37), and its
 * security groups are not sent, as Nova would apply them to ports; the security group and its
 * rules themselves are created on the network endpoint in Neutron's request format.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { issueToken } from "./stack";

export interface CloudAccess {
  authUrl: string;
  user: string;
  password: string;
  project: string;
  computeUrl: string;
  imageUrl: string;
  networkUrl: string;
  /** Where the program's relative image path is resolved (Pulumi runs the provider in the project dir). */
  projectDir: string;
}

type Inputs = Record<string, unknown>;
export interface Created {
  type: string;
  id: string;
  state: Inputs;
}

const FLAVOR = "openstack:compute/flavor:Flavor";
const AGGREGATE = "openstack:compute/aggregateV2:AggregateV2";
const IMAGE = "openstack:images/image:Image";
const SECGROUP = "openstack:networking/secGroup:SecGroup";
const RULE = "openstack:networking/secGroupRule:SecGroupRule";
const KEYPAIR = "openstack:compute/keypair:Keypair";
const INSTANCE = "openstack:compute/instance:Instance";
export const STANDIN_TYPES = [FLAVOR, AGGREGATE, IMAGE, SECGROUP, RULE, KEYPAIR, INSTANCE];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ProviderStandIn {
  /** Everything created, in order, for `destroy`. */
  readonly created: Created[] = [];
  private token?: string;

  constructor(private readonly cloud: CloudAccess) {}

  async projectId(): Promise<string> {
    const res = await fetch(`${this.cloud.authUrl}/auth/tokens`, {
      headers: { "X-Auth-Token": await this.auth(), "X-Subject-Token": await this.auth() },
    });
    return ((await res.json()) as { token: { project: { id: string } } }).token.project.id;
  }

  private async auth(): Promise<string> {
    this.token ??= await issueToken(this.cloud.authUrl, this.cloud.user, this.cloud.password, this.cloud.project);
    return this.token;
  }

  /** One API call; a non-2xx answer is an error in the provider's words plus the service's body. */
  async call<T>(
    base: string,
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const raw = body instanceof Buffer;
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        "X-Auth-Token": await this.auth(),
        Accept: "application/json",
        "Content-Type": raw ? "application/octet-stream" : "application/json",
        ...headers,
      },
      body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${base}${path}: ${res.status} ${text.slice(0, 500)}`);
    return (text ? JSON.parse(text) : {}) as T;
  }
  private nova<T>(method: string, path: string, body?: unknown, microversion?: string): Promise<T> {
    return this.call<T>(
      this.cloud.computeUrl,
      method,
      path,
      body,
      microversion
        ? { "OpenStack-API-Version": `compute ${microversion}`, "X-OpenStack-Nova-API-Version": microversion }
        : {},
    );
  }

  /** The mocks' newResource for an `openstack:*` type: creates it, returns the id and the state the program reads. */
  async create(type: string, inputs: Inputs): Promise<{ id: string; state: Inputs }> {
    const made = await this.createOne(type, inputs);
    this.created.push({ type, ...made });
    return made;
  }

  private async createOne(type: string, i: Inputs): Promise<{ id: string; state: Inputs }> {
    switch (type) {
      case FLAVOR: {
        // resource_openstack_compute_flavor_v2.go resourceComputeFlavorV2Create: flavors.Create
        // with name, ram, vcpus, disk, is_public (swap and ephemeral 0, rx_tx_factor 1), then
        // flavors.CreateExtraSpecs with extra_specs when there are any.
        const { flavor } = await this.nova<{ flavor: { id: string } }>("POST", "/flavors", {
          flavor: {
            name: i.name,
            ram: i.ram,
            vcpus: i.vcpus,
            disk: i.disk ?? 0,
            swap: 0,
            "OS-FLV-EXT-DATA:ephemeral": 0,
            rxtx_factor: 1,
            "os-flavor-access:is_public": i.isPublic ?? true,
          },
        });
        const specs = (i.extraSpecs ?? {}) as Record<string, string>;
        if (Object.keys(specs).length > 0)
          await this.nova("POST", `/flavors/${flavor.id}/os-extra_specs`, { extra_specs: specs });
        // resourceComputeFlavorV2Read: extra_specs as Nova reports them.
        const read = await this.nova<{ extra_specs: Record<string, string> }>(
          "GET",
          `/flavors/${flavor.id}/os-extra_specs`,
        );
        return { id: flavor.id, state: { ...i, extraSpecs: read.extra_specs, flavorId: flavor.id } };
      }
      case AGGREGATE: {
        // resource_openstack_compute_aggregate_v2.go resourceComputeAggregateV2Create:
        // aggregates.Create(name, availability_zone = zone), AddHost per host, then SetMetadata.
        const { aggregate } = await this.nova<{ aggregate: { id: number } }>("POST", "/os-aggregates", {
          aggregate: { name: i.name, availability_zone: i.zone || null },
        });
        for (const host of (i.hosts ?? []) as string[])
          await this.nova("POST", `/os-aggregates/${aggregate.id}/action`, { add_host: { host } });
        await this.nova("POST", `/os-aggregates/${aggregate.id}/action`, {
          set_metadata: { metadata: i.metadata ?? {} },
        });
        const read = await this.nova<{ aggregate: { hosts: string[]; metadata: Record<string, string> } }>(
          "GET",
          `/os-aggregates/${aggregate.id}`,
        );
        // resourceComputeAggregateV2Read sets metadata without the availability_zone key Nova adds.
        const metadata = Object.fromEntries(
          Object.entries(read.aggregate.metadata).filter(([k]) => k !== "availability_zone"),
        );
        return { id: String(aggregate.id), state: { ...i, hosts: read.aggregate.hosts, metadata } };
      }
      case IMAGE: {
        // resource_openstack_images_image_v2.go resourceImagesImageV2Create: images.Create with
        // name, container_format, disk_format, min_disk 0, min_ram 0, protected false,
        // visibility private and the properties; then (web_download false) the file, from
        // local_file_path or downloaded from image_source_url, uploaded with imagedata.Upload;
        // waits for `active` and compares Glance's checksum (md5) with the file's.
        const { id } = await this.call<{ id: string }>(this.cloud.imageUrl, "POST", "/v2/images", {
          name: i.name,
          container_format: i.containerFormat,
          disk_format: i.diskFormat,
          min_disk: 0,
          min_ram: 0,
          protected: false,
          visibility: "private",
          ...((i.properties ?? {}) as Record<string, string>),
        });
        const data =
          typeof i.localFilePath === "string"
            ? readFileSync(resolve(this.cloud.projectDir, i.localFilePath))
            : Buffer.from(await (await fetch(String(i.imageSourceUrl))).arrayBuffer());
        await this.call(this.cloud.imageUrl, "PUT", `/v2/images/${id}/file`, data);
        for (let n = 0; ; n++) {
          const img = await this.call<{ status: string; checksum: string; size: number }>(
            this.cloud.imageUrl,
            "GET",
            `/v2/images/${id}`,
          );
          if (img.status === "active") {
            const md5 = (await import("node:crypto")).createHash("md5").update(data).digest("hex");
            if (img.checksum !== md5) throw new Error(`Error wrong checksum: got "${img.checksum}", expected "${md5}"`);
            return { id, state: { ...i, checksum: img.checksum, sizeBytes: img.size, status: img.status } };
          }
          if (n > 100) throw new Error(`Error waiting for Image: ${id} is ${img.status}`);
          await sleep(300);
        }
      }
      case SECGROUP: {
        // resource_openstack_networking_secgroup_v2.go resourceNetworkingSecGroupV2Create:
        // groups.Create(name, description); Neutron's default egress rules are its own business.
        const { security_group } = await this.call<{ security_group: { id: string } }>(
          this.cloud.networkUrl,
          "POST",
          "/v2.0/security-groups",
          { security_group: { name: i.name, description: i.description ?? "" } },
        );
        return { id: security_group.id, state: { ...i } };
      }
      case RULE: {
        // resource_openstack_networking_secgroup_rule_v2.go resourceNetworkingSecGroupRuleV2Create:
        // rules.Create(direction, ethertype, protocol, port_range_min/max, description,
        // security_group_id, remote_ip_prefix); gophercloud leaves out the zero values.
        const rule: Record<string, unknown> = {
          security_group_id: i.securityGroupId,
          direction: i.direction,
          ethertype: i.ethertype,
          description: i.description ?? "",
        };
        if (i.protocol) rule.protocol = i.protocol;
        if (i.portRangeMin) rule.port_range_min = i.portRangeMin;
        if (i.portRangeMax) rule.port_range_max = i.portRangeMax;
        if (i.remoteIpPrefix) rule.remote_ip_prefix = i.remoteIpPrefix;
        const { security_group_rule } = await this.call<{ security_group_rule: { id: string } }>(
          this.cloud.networkUrl,
          "POST",
          "/v2.0/security-group-rules",
          { security_group_rule: rule },
        );
        return { id: security_group_rule.id, state: { ...i } };
      }
      case KEYPAIR: {
        // resource_openstack_compute_keypair_v2.go resourceComputeKeypairV2Create: keypairs.Create
        // (name, public_key); the id is the name; fingerprint from the read.
        const { keypair } = await this.nova<{ keypair: { name: string; fingerprint: string } }>(
          "POST",
          "/os-keypairs",
          { keypair: { name: i.name, public_key: i.publicKey } },
        );
        return { id: keypair.name, state: { ...i, fingerprint: keypair.fingerprint } };
      }
      case INSTANCE: {
        // resource_openstack_compute_instance_v2.go resourceComputeInstanceV2Create:
        // servers.Create with name, flavorRef, imageRef, availability_zone, config_drive,
        // user_data (gophercloud base64-encodes it), key_name (keypairs.CreateOptsExt) and the
        // networks (here "none", see the header); then waits from BUILD to ACTIVE
        // (ServerV2StateRefreshFunc) and fails with the provider's message otherwise.
        const server: Record<string, unknown> = {
          name: i.name,
          flavorRef: i.flavorId,
          imageRef: i.imageId,
          networks: "none",
          config_drive: i.configDrive ?? false,
        };
        if (i.availabilityZone) server.availability_zone = i.availabilityZone;
        if (typeof i.userData === "string") server.user_data = Buffer.from(i.userData).toString("base64");
        if (i.keyPair) server.key_name = i.keyPair;
        if (i.metadata) server.metadata = i.metadata;
        const hints = i.schedulerHints as Inputs[] | undefined;
        const body: Record<string, unknown> = { server };
        if (hints?.length) body["os:scheduler_hints"] = hints[0];
        let created: { server: { id: string } };
        try {
          created = await this.nova("POST", "/servers", body, "2.37");
        } catch (e) {
          throw new Error(`Error creating OpenStack server: ${(e as Error).message}`);
        }
        const id = created.server.id;
        this.created.push({ type, id, state: {} }); // deleted even when it never becomes ACTIVE
        const s = await this.waitForServer(id);
        return {
          id,
          state: { ...i, accessIpV4: "", accessIpV6: "", powerState: "active", allMetadata: s.metadata ?? {} },
        };
      }
      default:
        throw new Error(`the provider stand-in does not create ${type}`);
    }
  }

  private async waitForServer(id: string): Promise<{ status: string; metadata?: Record<string, string> }> {
    for (;;) {
      const { server } = await this.nova<{
        server: { status: string; fault?: { message: string }; metadata?: Record<string, string> };
      }>("GET", `/servers/${id}`, undefined, "2.37");
      if (server.status === "ACTIVE") return server;
      if (server.status !== "BUILD")
        // The provider's words (retry.StateChangeConf on an unexpected state); the fault Nova
        // recorded is added, as `openstack server show` would give it to the operator.
        throw new Error(
          `Error waiting for instance (${id}) to become ready: unexpected state '${server.status}', wanted target 'ACTIVE'` +
            (server.fault ? ` (fault: ${server.fault.message})` : ""),
        );
      await sleep(1000);
    }
  }

  /** Deletes what was created, newest first (servers until Nova has removed them). */
  async destroy(): Promise<void> {
    const seen = new Set<string>();
    for (const r of [...this.created].reverse()) {
      if (seen.has(`${r.type} ${r.id}`)) continue;
      seen.add(`${r.type} ${r.id}`);
      await this.deleteOne(r).catch((e: unknown) =>
        process.stdout.write(`# [standin] delete ${r.type} ${r.id}: ${String(e)}\n`),
      );
    }
    this.created.length = 0;
  }

  /** Deletes one resource this stand-in created (what the engine does for a resource gone from the program). */
  async delete(type: string, id: string): Promise<void> {
    await this.deleteOne({ type, id, state: {} });
    const rest = this.created.filter((r) => !(r.type === type && r.id === id));
    this.created.splice(0, this.created.length, ...rest);
  }

  private async deleteOne(r: Created): Promise<void> {
    switch (r.type) {
      case INSTANCE:
        await this.nova("DELETE", `/servers/${r.id}`);
        // resourceComputeInstanceV2Delete waits for DELETED; a server gone to ERROR is a failed delete.
        for (let n = 0; n < 120; n++) {
          let server: { status: string; fault?: { message: string } };
          try {
            server = (await this.nova<{ server: typeof server }>("GET", `/servers/${r.id}`)).server;
          } catch {
            return;
          }
          if (server.status === "ERROR")
            throw new Error(`Error deleting OpenStack instance ${r.id}: ${server.fault?.message ?? "status ERROR"}`);
          await sleep(1000);
        }
        throw new Error(`Error waiting for instance (${r.id}) to delete: still there after 120 s`);
      case FLAVOR:
        return void (await this.nova("DELETE", `/flavors/${r.id}`));
      case KEYPAIR:
        return void (await this.nova("DELETE", `/os-keypairs/${r.id}`));
      case IMAGE:
        return void (await this.call(this.cloud.imageUrl, "DELETE", `/v2/images/${r.id}`));
      case SECGROUP:
        return void (await this.call(this.cloud.networkUrl, "DELETE", `/v2.0/security-groups/${r.id}`));
      case RULE:
        return void (await this.call(this.cloud.networkUrl, "DELETE", `/v2.0/security-group-rules/${r.id}`));
      case AGGREGATE: {
        const { aggregate } = await this.nova<{ aggregate: { hosts: string[] } }>("GET", `/os-aggregates/${r.id}`);
        for (const host of aggregate.hosts)
          await this.nova("POST", `/os-aggregates/${r.id}/action`, { remove_host: { host } });
        return void (await this.nova("DELETE", `/os-aggregates/${r.id}`));
      }
    }
  }
}
