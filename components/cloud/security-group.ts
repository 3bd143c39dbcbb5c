/**
 * The RT servers' security group: ICMP and SSH in, as in the seeds, each from its configured
 * CIDR (IPv4 or IPv6). Opening SSH to every address (a public range wider than /8 or /16:
 * lib/config/ip.ts) needs securityGroup.allowSshFromAnywhere (the planner refuses it otherwise); that,
 * and any CIDR reaching public addresses, is warned about on every preview (lib/config/warnings.ts,
 * logged by lib/desired/from-pulumi.ts).
 */
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../../lib/config/schema";
import type { SecurityGroupOutput } from "../../lib/render/outputs";

type SecurityGroupConfig = StackConfig["securityGroup"];

export interface IngressRule {
  /** Names the rule's resource: `${component}-${role}`. */
  role: "icmp" | "ssh";
  ethertype: "IPv4" | "IPv6";
  protocol: "icmp" | "ipv6-icmp" | "tcp";
  port: number | null;
  cidr: string;
  description: string;
}

const ethertype = (cidr: string): IngressRule["ethertype"] => (cidr.includes(":") ? "IPv6" : "IPv4");

/** The ingress rules. Egress stays as Neutron creates it (everything), which guests need for their packages. */
export function ingressRules(sg: SecurityGroupConfig): IngressRule[] {
  const icmpType = ethertype(sg.icmpCidr);
  return [
    {
      role: "icmp",
      ethertype: icmpType,
      protocol: icmpType === "IPv6" ? "ipv6-icmp" : "icmp",
      port: null,
      cidr: sg.icmpCidr,
      description: "openstack-rt: ICMP to the RT servers",
    },
    {
      role: "ssh",
      ethertype: ethertype(sg.sshCidr),
      protocol: "tcp",
      port: 22,
      cidr: sg.sshCidr,
      description: "openstack-rt: SSH to the RT servers",
    },
  ];
}

export class RtSecurityGroup extends pulumi.ComponentResource {
  readonly group: openstack.networking.SecGroup;
  readonly rules: openstack.networking.SecGroupRule[];
  readonly output: pulumi.Output<SecurityGroupOutput>;

  constructor(name: string, args: SecurityGroupConfig, opts?: pulumi.ComponentResourceOptions) {
    super("openstack-rt:security-group:RtSecurityGroup", name, {}, opts);
    this.group = new openstack.networking.SecGroup(
      `${name}-secgroup`,
      { name: args.name, description: "openstack-rt: ICMP and SSH to the RT servers" },
      { parent: this },
    );
    this.rules = ingressRules(args).map(
      (r) =>
        new openstack.networking.SecGroupRule(
          `${name}-${r.role}`,
          {
            securityGroupId: this.group.id,
            direction: "ingress",
            ethertype: r.ethertype,
            protocol: r.protocol,
            ...(r.port === null ? {} : { portRangeMin: r.port, portRangeMax: r.port }),
            remoteIpPrefix: r.cidr,
            description: r.description,
          },
          { parent: this },
        ),
    );
    this.output = pulumi
      .all([this.group.id, this.group.name])
      .apply(([id, groupName]): SecurityGroupOutput => ({ id, name: groupName }));
    this.registerOutputs({ output: this.output });
  }
}
