/**
 * The decisions the cloud components (components/cloud/rt-cloud.ts) only carry out: where the image
 * comes from and its checksum, the RT guest setup (./guest-setup.ts) and so the user data of
 * each server, its availability zone, and the RT hosts it waits for. decideStack makes them
 * before the first resource is registered; with them made, the components cannot fail on the
 * input.
 *
 * Its only I/O is reading (hashing) a local image file.
 */
import type { GuestFamily } from "./guest-setup";
import { guestFamily, guestSetup, needsRtSetup } from "./guest-setup";
import { cloudInitUserData, NOVA_MAX_USER_DATA_BYTES, userDataSize } from "./cloud-init";
import { hasOneImageSource } from "../config/rules";
import { settingPath } from "../config/schema";
import type { StackConfig } from "../config/schema";
import type { ImageSource } from "./image-source";
import { imageSource } from "./image-source";
import type { StackPlan } from "../plan/stack";
import type { Problem } from "../config/problems";

/** Nova's `[DEFAULT] default_availability_zone`: the zone of hosts outside any zoned aggregate. */
export const NOVA_DEFAULT_ZONE = "nova";

/**
 * The availability zone a server asks for: `zone:host` pins it to one host (Nova's forced-host
 * syntax; the provider compares only the zone part afterwards), otherwise the aggregate's zone,
 * or none, leaving the choice within the aggregate to the scheduler.
 */
export function serverAvailabilityZone(aggregateZone: string | undefined, host: string | null): string | undefined {
  if (host !== null) return `${aggregateZone ?? NOVA_DEFAULT_ZONE}:${host}`;
  return aggregateZone;
}

export interface ServerDecision {
  name: string;
  flavor: string;
  host: string | null;
  availabilityZone: string | undefined;
  /** The RT hosts whose readiness the server waits for. */
  waitsFor: string[];
  floatingIpPool: string | undefined;
  userData: string;
}

export interface CloudDecisions {
  image: ImageSource;
  servers: ServerDecision[];
}

export type CloudResult = { ok: true; cloud: CloudDecisions } | { ok: false; problems: Problem[] };

/**
 * Every cloud decision, or every problem in the way of one. `plan` may be partial (planStack
 * with problems). A config that breaks a config rule (lib/config/rules.ts: the image's file or
 * url, a server's flavor) gets no decisions; that rule's problem is the config's, not listed
 * here again, while the cloud's own problems still are.
 */
export function decideCloud(config: StackConfig, plan: StackPlan, projectDir: string): CloudResult {
  const problems: Problem[] = [];
  let image: ImageSource | undefined;
  if (hasOneImageSource(config.image)) {
    const source = imageSource(config.image, projectDir);
    if (source.ok) image = source.source;
    else problems.push(source.problem);
  }

  const flavors = new Map(plan.flavors.map((f) => [f.name, f]));
  const rtFlavors = [...new Set(config.servers.map((s) => s.flavor))].filter((name) => {
    const flavor = flavors.get(name);
    return flavor !== undefined && needsRtSetup(flavor, config.image);
  });
  let family: GuestFamily | undefined;
  if (rtFlavors.length > 0) {
    const g = guestFamily(config.image, rtFlavors);
    if (g.ok) family = g.family;
    else problems.push(g.problem);
  }
  if (image === undefined || problems.length > 0 || config.servers.some((s) => !flavors.has(s.flavor)))
    return { ok: false, problems };

  // Nova may put an unpinned server on any host it fits.
  const userData = new Map<string, string>();
  const servers = plan.servers.map((s, i): ServerDecision => {
    const flavor = flavors.get(s.flavor)!;
    if (!userData.has(flavor.name))
      userData.set(flavor.name, cloudInitUserData(flavor, guestSetup(flavor, config.image, family)));
    const hosts = new Set(s.pinnedHost !== null ? [s.pinnedHost] : s.candidates);
    return {
      name: s.name,
      flavor: s.flavor,
      host: s.pinnedHost,
      availabilityZone: serverAvailabilityZone(config.aggregate.zone, s.pinnedHost),
      waitsFor: config.hosts.map((h) => h.name).filter((h) => hosts.has(h)),
      floatingIpPool: config.servers[i].floatingIpPool,
      userData: userData.get(flavor.name)!,
    };
  });
  servers.forEach((s, i) => {
    const size = userDataSize(s.userData, s.name);
    if (size > NOVA_MAX_USER_DATA_BYTES)
      problems.push({
        path: settingPath(["servers", i]),
        message:
          `server "${s.name}" of flavor "${s.flavor}" would get ${size} bytes of user data (base64), more than the ${NOVA_MAX_USER_DATA_BYTES} Nova takes: ` +
          "Nova would refuse the server at `pulumi up`, after the hosts were prepared. The flavor's guest plan (its extraSpecs), " +
          "the RT guest setup script and the guest's SSH host key go into it: shorten the flavor's extraSpecs, or use an image with the RT setup built in (image.prebuiltRt: true)",
      });
  });
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, cloud: { image, servers } };
}
