/**
 * One RT server: the planned flavor, the image, the keypair, the security group by name (IDs
 * make the provider report a change on every preview), the network, the aggregate's zone or a
 * pinned host, cloud-init user data for the guest, and an optional floating IP. It is created
 * only after what it is given to wait for: the aggregate, the security group's rules, and the
 * host prep and host checks of every host Nova may place it on. Its SSH host key is made by
 * the stack and planted through the user data, so the guest checks pin the guest from the start.
 */
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import { withSshHostKey } from "../../lib/desired/cloud-init";
import type { ServerOutput } from "../../lib/render/outputs";
import { GuestHostKey } from "./guest-host-key";

export interface RtServerArgs {
  name: string;
  flavor: string;
  flavorId: pulumi.Input<string>;
  imageId: pulumi.Input<string>;
  keyPair: pulumi.Input<string>;
  /** Security group names. */
  securityGroups: pulumi.Input<string>[];
  network: string;
  /** `zone:host` for a pinned server (lib/desired/cloud.ts serverAvailabilityZone). */
  availabilityZone: string | undefined;
  host: string | null;
  userData: string;
  floatingIpPool: string | undefined;
  loginUser: string;
  /** Resources to wait for: host prep and host verification (built elsewhere), the aggregate, the security group. */
  dependsOn: pulumi.Resource[];
}

export class RtServer extends pulumi.ComponentResource {
  readonly hostKey: GuestHostKey;
  readonly instance: openstack.compute.Instance;
  readonly floatingIp: openstack.networking.FloatingIp | undefined;
  readonly output: pulumi.Output<ServerOutput>;

  constructor(name: string, args: RtServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("openstack-rt:server:RtServer", name, {}, opts);
    this.hostKey = new GuestHostKey(`${name}-host-key`, { comment: `openstack-rt ${args.name}` }, { parent: this });
    // Nested applies, not pulumi.all: fewer pending Outputs per server on a large fleet.
    const userData = pulumi.secret(
      this.hostKey.publicKey.apply((publicKey) =>
        this.hostKey.privateKey.apply((privateKey) => withSshHostKey(args.userData, { publicKey, privateKey })),
      ),
    );
    this.instance = new openstack.compute.Instance(
      `${name}-instance`,
      {
        name: args.name,
        flavorId: args.flavorId,
        imageId: args.imageId,
        keyPair: args.keyPair,
        securityGroups: args.securityGroups,
        networks: [{ name: args.network }],
        availabilityZone: args.availabilityZone,
        userData,
        // cloud-init reads the user data from the config drive: provider networks often have
        // no route to the metadata service.
        configDrive: true,
      },
      {
        parent: this,
        dependsOn: args.dependsOn,
        // cloud-init sets the guest up for its flavor and image at first boot only (TuneD's
        // isolated_cores are the flavor's RT vCPUs), so a new flavor or image means a new
        // server, not a resize or rebuild. The old one goes first: its dedicated CPUs are what
        // the new one needs on a full RT host. Only this server goes: the servers are chained
        // (RtCloud), so they are replaced one at a time, and the flavor is created before the
        // old one is deleted, so no cascade deletes every server of a flavor at once.
        replaceOnChanges: ["flavorId", "imageId"],
        deleteBeforeReplace: true,
      },
    );
    let floatingIp: pulumi.Output<string | null> = pulumi.output(null);
    if (args.floatingIpPool !== undefined) {
      this.floatingIp = new openstack.networking.FloatingIp(
        `${name}-fip`,
        { pool: args.floatingIpPool },
        { parent: this },
      );
      new openstack.compute.FloatingIpAssociate(
        `${name}-fip-assoc`,
        { floatingIp: this.floatingIp.address, instanceId: this.instance.id },
        { parent: this },
      );
      floatingIp = this.floatingIp.address;
    }
    const i = this.instance;
    this.output = i.id.apply((id) =>
      i.flavorId.apply((flavorId) =>
        i.accessIpV4.apply((accessIpV4) =>
          floatingIp.apply((fip) =>
            this.hostKey.publicKey.apply((hostKey): ServerOutput => ({
              id,
              name: args.name,
              flavor: args.flavor,
              flavorId,
              host: args.host,
              accessIpV4,
              floatingIp: fip,
              loginUser: args.loginUser,
              hostKey,
            })),
          ),
        ),
      ),
    );
    this.registerOutputs({ output: this.output });
  }
}
