/**
 * The stack's config model: one zod schema, read from `pulumi.Config` by the program and from
 * `Pulumi.<stack>.yaml` by `npm run plan`. Names and CPU lists are validated here so that nothing
 * unvalidated ever reaches a shell command or an API call.
 */
import { z } from "zod";
import { cpuListSize, isCpuSpecError, MAX_CPU_LIST_CHARS } from "../cpu/cpuset";
import { KERNEL_ARG, MAX_KERNEL_ARG_CHARS, OS_FAMILIES, RESTART_COMMAND_WORDS } from "../hostprep/rules";
import { isIpAddress, looksNumeric, parseCidr } from "./ip";
import type { Problem } from "./problems";
import { closestName, show } from "./problems";

export const CONFIG_NAMESPACE = "openstack-rt";

// Host and service names: DNS labels joined by dots, the only shape Nova service hosts take.
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const UNIX_USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const RESOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
// One public key line: type, base64 blob, optional comment without shell-special characters.
const SSH_PUBLIC_KEY =
  /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [A-Za-z0-9@._+-]{1,100})?$/;

/**
 * Upper bounds of the counts and sizes, each checked before any work that grows with it. The
 * cloud's own limits are Nova's API schema (nova/api/openstack/compute/schemas: flavor ram,
 * vcpus and disk at most db.MAX_INT; extra spec and aggregate metadata keys and values at most
 * 255 characters); the host ones hold the largest machines Linux runs (NR_CPUS 8192, 64 NUMA
 * nodes) with room to spare.
 */
export const CONFIG_LIMITS = {
  /** Nova's db.MAX_INT, the most a flavor's ram (MiB), vcpus and disk (GiB) may be. */
  novaMaxInt: 2_147_483_647,
  /** Nova's extra spec and aggregate metadata key and value length. */
  novaMetadataChars: 255,
  /** Memory of one NUMA node, and memory reserved for the host: 64 TiB. */
  nodeMemoryMb: 64 * 1024 * 1024,
  /** 1 GiB pages of one node (64 TiB), 2 MiB pages of one node (64 TiB). */
  hugepages1g: 65_536,
  hugepages2m: 32 * 1024 * 1024,
  /** CPUs of a host (NR_CPUS). */
  cpus: 8192,
  hosts: 1024,
  flavors: 256,
  servers: 1024,
  /** Extra specs of a flavor, properties of the image, metadata items of the aggregate. */
  mapEntries: 128,
  /**
   * Glance's image_property_quota (128 by default) counts every property of an image, and the
   * program adds one (the file's sha256): the image's own properties may be one fewer.
   */
  imageProperties: 127,
  /** Latency bounds, in µs: a second is no real-time bound. */
  latencyUs: 1_000_000,
} as const;

const hostName = z.string().regex(HOST_NAME, {
  error: "must be a host name: letters, digits, '-' and '.' (no spaces or shell characters)",
});
const address = z
  .string()
  .max(253, { abort: true })
  .check((ctx) => {
    if (isIpAddress(ctx.value) || (HOST_NAME.test(ctx.value) && !looksNumeric(ctx.value))) return;
    const message = looksNumeric(ctx.value)
      ? "must be an IPv4 address (four parts 0-255, no leading zeros) or a host name (whose last label is not all digits, else it is read as a number)"
      : ctx.value.includes(":")
        ? "must be an IPv6 address (eight groups of hex digits, one '::' at most, optionally %<interface>) or a host name"
        : "must be a host name or an IP address";
    ctx.issues.push({ code: "custom", input: ctx.value, message });
  });
const resourceName = z.string().regex(RESOURCE_NAME, {
  error: "must start with a letter or digit and hold only letters, digits, '.', '_' and '-' (64 at most)",
});
// 16 KiB holds any RSA key OpenSSH makes (16384 bits: about 2.8 KiB of text).
const publicKey = z
  .string()
  .max(16384, { abort: true, error: "is longer than any OpenSSH public key line (16384 characters at most)" })
  .regex(SSH_PUBLIC_KEY, {
    error: "must be one OpenSSH public key line: '<type> <base64> [comment]'",
  });

/**
 * A pinned host key. Not RSA: the step commands run through @pulumi/command 1.2.1, which
 * verifies an RSA host key only with ssh-rsa (SHA-1) signatures, and OpenSSH 8.8 and later
 * (Debian 12, RHEL 9) refuse those, so every step would fail to connect.
 */
const hostKeyPin = publicKey.refine((key) => !key.startsWith("ssh-rsa "), {
  error:
    "is an RSA key, which the step commands (@pulumi/command) can only verify with ssh-rsa (SHA-1) signatures that current OpenSSH refuses: " +
    "pin the host's ed25519 or ECDSA key instead (`npm run discover -- --stack <stack> --host <name>` writes it, " +
    "or `ssh-keyscan -t ed25519 -p <port> <address>` after checking the fingerprint out of band)",
});

/** A kernel cpulist such as "0,2,4" or "4-11". */
const cpuList = z
  .string()
  .max(MAX_CPU_LIST_CHARS, {
    abort: true,
    error: `is longer than any list of CPUs 0-${CONFIG_LIMITS.cpus - 1} needs (${MAX_CPU_LIST_CHARS} characters at most); write ranges such as "0-63"`,
  })
  .check((ctx) => {
    try {
      if (cpuListSize(ctx.value) === 0) {
        ctx.issues.push({ code: "custom", input: ctx.value, message: "must name at least one CPU" });
      }
    } catch (e) {
      if (!isCpuSpecError(e)) throw e;
      ctx.issues.push({
        code: "custom",
        input: ctx.value,
        message: `${e.message}; use CPU lists like "0,2,4" or "4-11"`,
      });
    }
  });

const sshTarget = z.strictObject({
  host: address.describe("SSH address of the host"),
  user: z.string().regex(UNIX_USER, { error: "must be a Unix user name" }).default("root"),
  port: z.number().int().min(1).max(65535).default(22),
  hostKey: hostKeyPin.optional().describe("the host's public SSH key; pinned when given"),
  /** Accepts an unpinned host without the warning (a note instead); absent, not false, so the SSH inputs stay as they were. */
  insecureSkipHostKeyCheck: z.boolean().optional(),
});

const numaNode = z.strictObject({
  id: z.number().int().min(0).max(63),
  cpus: cpuList,
  memoryMb: z.number().int().min(1024).max(CONFIG_LIMITS.nodeMemoryMb),
  /** SMT thread groups, each a cpulist of sibling threads ("0,24"); absent means SMT off. */
  threadSiblings: z.array(cpuList).max(CONFIG_LIMITS.cpus).default([]),
});

const pageCount1g = z.number().int().min(0).max(CONFIG_LIMITS.hugepages1g);
const pageCount2m = z.number().int().min(0).max(CONFIG_LIMITS.hugepages2m);

const declaredTopology = z.strictObject({ nodes: z.array(numaNode).min(1).max(64) });

/** The command that reads a host's topology and host key and writes them into its stack file (cli/discover.ts). */
export function discoverCommand(host: string): string {
  return `npm run discover -- --stack <stack> --host ${host}`;
}

/**
 * `topology: "discover"` once left a host's topology to deploy time, and with it the host's
 * prep, reboot wait and checks: nothing was planned for it. It is refused now, by the host-level
 * check below, which can name the host in the command to run. This branch only lets the string
 * through to that check; its output type is `never` because no host that has it parses.
 */
const discoverPlaceholder = z.custom<never>((v) => v === "discover");

/** Refuses `topology: "discover"`, naming the command that writes the declared topology instead. */
function refuseDiscover(host: { name?: unknown; topology?: unknown }, ctx: z.RefinementCtx<unknown>): void {
  if (host.topology !== "discover") return;
  const name = typeof host.name === "string" && HOST_NAME.test(host.name) ? host.name : "<host name>";
  ctx.addIssue({
    code: "custom",
    input: host.topology,
    path: ["topology"],
    message:
      `the host's NUMA nodes must be declared now (nothing is read at deploy time any more): run \`${discoverCommand(name)}\`, ` +
      "which reads them and the host's SSH key over SSH and writes both into the stack file",
  });
}

/** How awake a host keeps its CPUs: what each mode does is lib/plan/latency-mode.ts. */
export const LATENCY_MODES = ["default", "low-latency", "ultra-low-latency"] as const;
export type LatencyMode = (typeof LATENCY_MODES)[number];
/** Nova's `[libvirt] cpu_power_management` as one setting: off, or on with its strategy. */
export const CPU_POWER_MANAGEMENT = ["off", "governor", "cpu_state"] as const;
export type CpuPowerManagement = (typeof CPU_POWER_MANAGEMENT)[number];

/** An absolute path of plain characters, no `.`/`..` components: it goes into a shell argument and a file edit. */
const absolutePath = z
  .string()
  .max(4096)
  .regex(/^\/[A-Za-z0-9._+-]+(\/[A-Za-z0-9._+-]+)*$/, {
    error: "must be an absolute path of letters, digits and ._+- (such as /etc/kolla/nova-compute/nova.conf)",
  })
  .refine((p) => !p.split("/").some((c) => c === "." || c === ".."), {
    error: "must not contain . or .. components; give the path itself",
  });
/** A command as words (no shell: no quotes, pipes, `;` or `$`), such as `docker restart nova_compute`. */
const commandWords = z.string().max(512).regex(RESTART_COMMAND_WORDS, {
  error:
    "must be a command and its arguments separated by single spaces, of letters, digits and @%+=:,./_- only (no quotes, pipes, ';' or '$'), such as \"docker restart nova_compute\"",
});

/**
 * Who owns nova-compute's config: `edit` (host prep sets the options in `configPath` and runs
 * `restartCommand` when the file changed) or `verify` (a deployment tool owns the file: nothing
 * is written, the host check compares the options and names what to set where).
 */
export const novaOwnerSchema = z.strictObject({
  configMode: z.enum(["edit", "verify"]).optional(),
  configPath: absolutePath.optional(),
  restartCommand: commandWords.optional(),
  /** `[libvirt] cpu_power_management` (Nova 2023.1+) on compute hosts; unset: not written. */
  cpuPowerManagement: z
    .enum(CPU_POWER_MANAGEMENT, {
      error: `must be one of ${CPU_POWER_MANAGEMENT.join(", ")}: Nova's power management of idle dedicated CPUs (only off fits a TuneD-tuned host)`,
    })
    .optional(),
});
export type NovaOwnerConfig = z.output<typeof novaOwnerSchema>;

const hostSchema = z
  .strictObject({
    name: hostName.describe("nova-compute service host name (as in `openstack compute service list`)"),
    ssh: sshTarget.extend({ proxy: sshTarget.optional() }),
    os: z.enum(OS_FAMILIES),
    topology: z.union([discoverPlaceholder, declaredTopology], {
      error: "must be {nodes: [{id, cpus, memoryMb, threadSiblings}]}, as `npm run discover` writes it",
    }),
    housekeepingCpusPerNode: z.number().int().min(1).max(CONFIG_LIMITS.cpus).default(2),
    hugepages1gPerNode: z.union([pageCount1g, z.array(pageCount1g).max(64)], {
      error: "must be a count of 1 GiB pages for every node, or a list with one count per node",
    }),
    reservedHugepages1gPerNode: pageCount1g.default(0),
    /** 2 MiB pages beside the 1 GiB ones, for flavors with pageSize 2MB (or large/any when 1 GiB pages run out). */
    hugepages2mPerNode: z
      .union([pageCount2m, z.array(pageCount2m).max(64)], {
        error: "must be a count of 2 MiB pages for every node, or a list with one count per node",
      })
      .default(0),
    reservedHugepages2mPerNode: pageCount2m.default(0),
    reservedHostMemoryMb: z.number().int().min(0).max(CONFIG_LIMITS.nodeMemoryMb).default(4096),
    cpuSharedSet: z.enum(["none", "housekeeping"]).default("none"),
    hugepagesMethod: z.enum(["auto", "cmdline", "boot-unit"]).default("auto"),
    /** Overrides the stack's `nova` setting for this host, key by key. */
    nova: novaOwnerSchema.optional(),
    /**
     * realtime-virtual-host (the RT kernel, TuneD's realtime profile) or cpu-partitioning: a
     * pinned-only host that keeps its distribution kernel and gets TuneD's cpu-partitioning.
     */
    tunedProfile: z.enum(["realtime-virtual-host", "cpu-partitioning"]).default("realtime-virtual-host"),
    /** How awake the CPUs are kept: C-state limits and idle=poll on the command line (lib/plan/latency-mode.ts). */
    latencyMode: z
      .enum(LATENCY_MODES, {
        error: `must be one of ${LATENCY_MODES.join(", ")}: default (TuneD's own C-state limit), low-latency (C1 at most from boot), ultra-low-latency (also idle=poll)`,
      })
      .default("default"),
    /**
     * stalld on the isolated CPUs, with RT throttling off (lib/plan/stalld.ts); unset: on for
     * realtime-virtual-host hosts of a family that packages it (RHEL 8/9), off elsewhere.
     */
    stalld: z.boolean().optional(),
    /** Explicit CPU lists instead of housekeepingCpusPerNode; give one of them, the other is the rest. */
    housekeepingCpus: cpuList.optional(),
    isolatedCpus: cpuList.optional(),
    /** More kernel arguments, after the planned ones: key or key=value, no spaces or quotes. */
    extraKernelArgs: z
      .array(
        z.string().max(MAX_KERNEL_ARG_CHARS).regex(KERNEL_ARG, {
          error:
            'must be one kernel argument, key or key=value, of letters, digits and _.,:/+@=- (no spaces or quotes), such as "intel_iommu=on"',
        }),
      )
      .max(32)
      .default([]),
  })
  .superRefine(refuseDiscover, { when: (p) => (p.value as { topology?: unknown } | null)?.topology === "discover" });

const realtimeSpec = z.union(
  [
    z.literal(false),
    z.strictObject({
      housekeepingVcpus: z.number().int().min(0).max(1024).optional(),
      mask: z
        .string()
        .max(MAX_CPU_LIST_CHARS, { abort: true })
        .regex(/^[\d\s,^-]+$/, { error: 'must be a Nova CPU mask such as "^0-1"' })
        .optional(),
    }),
  ],
  { error: 'must be false, {housekeepingVcpus: N} or {mask: "^0-1"}' },
);

/** A map of `key` to `value` with at most `most` entries, counted before any entry is checked. */
function boundedMap(key: RegExp, value: z.ZodString, most: number = CONFIG_LIMITS.mapEntries) {
  return z
    .custom<Record<string, unknown>>(
      (v) => typeof v !== "object" || v === null || Array.isArray(v) || Object.keys(v).length <= most,
      {
        error: `has more than ${most} entries`,
        abort: true,
      },
    )
    .pipe(z.record(z.string().regex(key), value));
}

export const PAGE_SIZES = ["1GB", "2MB", "large", "small", "any"] as const;

const flavorSchema = z.strictObject({
  name: resourceName,
  vcpus: z.number().int().min(1).max(1024),
  ramMb: z.number().int().min(64).max(CONFIG_LIMITS.novaMaxInt),
  diskGb: z.number().int().min(0).max(CONFIG_LIMITS.novaMaxInt).default(20),
  cpuPolicy: z.enum(["dedicated", "mixed"]).default("dedicated"),
  realtime: realtimeSpec.default({ housekeepingVcpus: 1 }),
  threadPolicy: z.enum(["prefer", "isolate", "require"]).optional(),
  emulatorThreadsPolicy: z.enum(["isolate", "share"]).optional(),
  /** Absent: 1GB for realtime flavors, Nova's default (no key) otherwise. */
  pageSize: z.enum(PAGE_SIZES).optional(),
  numaNodes: z.number().int().min(1).max(8).default(1),
  pmu: z.boolean().default(false),
  isPublic: z.boolean().default(true),
  extraSpecs: boundedMap(/^[A-Za-z0-9_:.-]{1,255}$/, z.string().max(CONFIG_LIMITS.novaMetadataChars)).default({}),
});

/**
 * The image URL exactly as Glance gets it: http(s), printable ASCII only (no spaces, CR/LF or
 * other control characters, which the URL parser would silently drop or encode), no
 * credentials (they would sit in clear text in the stack file and in Glance), 2048 characters
 * at most (the longest URL browsers and proxies reliably pass).
 */
const imageUrl = z
  .string()
  .max(2048, { abort: true })
  .check((ctx) => {
    const bad = /[^\x21-\x7e]/.exec(ctx.value);
    const message = bad
      ? `holds ${JSON.stringify(bad[0])} at position ${bad.index}; a URL is printable ASCII without spaces: percent-encode the character (a space is %20)`
      : !/^https?:\/\//i.test(ctx.value)
        ? "must be an http:// or https:// URL"
        : /^https?:\/\/[^/?#]*@/i.test(ctx.value)
          ? "holds credentials (user@ or user:password@); they would be in clear text in the stack file and in Glance: publish the image where it needs none"
          : null;
    if (message) ctx.issues.push({ code: "custom", input: ctx.value, message });
  })
  .pipe(z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }));

const imageSchema = z.strictObject({
  name: resourceName,
  file: z.string().min(1).max(4096).optional(),
  url: imageUrl.optional(),
  diskFormat: z.enum(["qcow2", "raw", "vmdk", "vdi", "iso"]).default("qcow2"),
  containerFormat: z.enum(["bare", "ovf"]).default("bare"),
  properties: boundedMap(/^[A-Za-z0-9_:.-]{1,255}$/, z.string().max(65535), CONFIG_LIMITS.imageProperties).default({}),
  /** Set when the image already runs an RT kernel with TuneD's guest profile; cloud-init then skips that setup. */
  prebuiltRt: z.boolean().default(false),
  loginUser: z.string().regex(UNIX_USER, { error: "must be a Unix user name" }).default("debian"),
});

const cidr = z
  .string()
  .max(64, { abort: true, error: "is longer than any CIDR (64 characters at most)" })
  .refine((s) => parseCidr(s) !== null, {
    error:
      "must be a CIDR such as 192.0.2.0/24 or 2001:db8::/32 (IPv4 parts 0-255 without leading zeros, a valid IPv6 address, a prefix length up to 32 or 128)",
  });

const securityGroupSchema = z.strictObject({
  name: resourceName.default("rt-ssh-icmp"),
  sshCidr: cidr,
  icmpCidr: cidr,
  allowSshFromAnywhere: z.boolean().default(false),
});

const serverSchema = z.strictObject({
  name: resourceName,
  flavor: resourceName,
  host: hostName.optional().describe("pin to one RT host (by its nova service host name)"),
  floatingIpPool: resourceName.optional(),
});

/**
 * Upper bounds of the durations, each what its consumer takes: guest-latency.sh accepts at most
 * 6 digits, and the checks' timers (setTimeout, at most 2^31-1 ms, about 24.8 days) add their
 * margins to these (lib/providers/collect.ts). The waits are bounded by what an operator would
 * wait for, well inside the timers.
 */
export const DURATION_LIMITS = {
  /** guest-latency.sh --seconds, each latency stage's (host and guest): ^[0-9]{1,6}$; the timer: s * 1000 + 120000 ms. */
  stageSeconds: 999_999,
  /** The wait for a new guest, and for a rebooted host: 2 hours. */
  waitSeconds: 7200,
} as const;

/** A bounded wait, in seconds: at least a minute, at most DURATION_LIMITS.waitSeconds. */
function waitSeconds(fallback: number) {
  return z
    .number()
    .int()
    .min(60)
    .max(DURATION_LIMITS.waitSeconds, {
      error: `must be at most ${DURATION_LIMITS.waitSeconds} s (2 hours); a wait that long means something is wrong`,
    })
    .default(fallback);
}

/**
 * The latency proofs run in stages, in this order, stopping at the first that fails
 * (lib/checks/latency-stages.ts); each has its own duration and budget. On the host, cyclictest
 * and oslat are off by default: they load the isolated CPUs, where RT guests may be pinned, so
 * they belong on a drained host. readyTimeoutSeconds: a new guest installs its RT kernel from a
 * mirror and reboots into it first.
 */
const HOST_LATENCY_DEFAULTS = {
  hwlatdetect: { enabled: true, durationSeconds: 60, thresholdUs: 20 },
  cyclictest: { enabled: false, durationSeconds: 60, maxUs: 20, meanUs: 10 },
  oslat: { enabled: false, durationSeconds: 60, maxUs: 20 },
};
const GUEST_LATENCY_DEFAULTS = {
  enabled: true,
  readyTimeoutSeconds: 1800,
  hwlatdetect: { enabled: true, durationSeconds: 60, thresholdUs: 20 },
  cyclictest: { enabled: true, durationSeconds: 60, maxUs: 20, meanUs: 10 },
  oslat: { enabled: true, durationSeconds: 60, maxUs: 20 },
};

/** One latency stage's duration: a 12-hour soak is 43200. */
function stageSeconds(fallback: number) {
  return z
    .number()
    .int()
    .min(1)
    .max(DURATION_LIMITS.stageSeconds, {
      error: `must be at most ${DURATION_LIMITS.stageSeconds} s (11.5 days), what guest-latency.sh takes; a 12-hour soak is 43200`,
    })
    .default(fallback);
}

const latencyBound = (fallback: number) => z.number().int().min(1).max(CONFIG_LIMITS.latencyUs).default(fallback);

/** The three stages' settings, the same for hosts and guests; `defaults` gives each its fallbacks. */
function latencyStagesSchema(defaults: typeof HOST_LATENCY_DEFAULTS) {
  return {
    /** Firmware stalls (in a guest: the hypervisor's too); skipped, with the reason, where the kernel has no hwlat tracer. */
    hwlatdetect: z
      .strictObject({
        enabled: z.boolean().default(defaults.hwlatdetect.enabled),
        durationSeconds: stageSeconds(defaults.hwlatdetect.durationSeconds),
        thresholdUs: latencyBound(defaults.hwlatdetect.thresholdUs),
      })
      .default(defaults.hwlatdetect),
    /** Timer wake-up latency on the RT CPUs. */
    cyclictest: z
      .strictObject({
        enabled: z.boolean().default(defaults.cyclictest.enabled),
        durationSeconds: stageSeconds(defaults.cyclictest.durationSeconds),
        maxUs: latencyBound(defaults.cyclictest.maxUs),
        meanUs: latencyBound(defaults.cyclictest.meanUs),
      })
      .default(defaults.cyclictest),
    /** Interruptions of a busy loop on the RT CPUs: what a polling (DPDK-style) workload sees. */
    oslat: z
      .strictObject({
        enabled: z.boolean().default(defaults.oslat.enabled),
        durationSeconds: stageSeconds(defaults.oslat.durationSeconds),
        maxUs: latencyBound(defaults.oslat.maxUs),
      })
      .default(defaults.oslat),
  };
}

/** A key of latency.guest from before the stages: refused with where it went. */
const movedToCyclictest = (key: string) =>
  z.never({ error: `moved: set latency.guest.cyclictest.${key} (each latency stage has its own settings)` }).optional();

const latencySchema = z.strictObject({
  /** The host check's proof; hwlatdetect alone by default. */
  host: z.strictObject(latencyStagesSchema(HOST_LATENCY_DEFAULTS)).default(HOST_LATENCY_DEFAULTS),
  guest: z
    .strictObject({
      /** Off when the deployer cannot reach the guests over SSH. */
      enabled: z.boolean().default(GUEST_LATENCY_DEFAULTS.enabled),
      readyTimeoutSeconds: waitSeconds(GUEST_LATENCY_DEFAULTS.readyTimeoutSeconds),
      ...latencyStagesSchema(GUEST_LATENCY_DEFAULTS),
      durationSeconds: movedToCyclictest("durationSeconds"),
      maxUs: movedToCyclictest("maxUs"),
      meanUs: movedToCyclictest("meanUs"),
    })
    .default(GUEST_LATENCY_DEFAULTS),
  /** The host's hwlatdetect from before the stages: refused with where it went. */
  hwlatdetect: z
    .never({
      error:
        "moved: set latency.host.hwlatdetect (enabled, durationSeconds, thresholdUs); the host's latency proof runs in stages like the guest's: latency.host.{hwlatdetect,cyclictest,oslat}",
    })
    .optional(),
});

/** What host maintenance does with the guests on a host it disables (lib/desired/rollout.ts). */
export const GUEST_POLICIES = ["refuse", "live-migrate", "ignore"] as const;

const deploymentSchema = z.strictObject({
  /**
   * Replaced by maxUnavailable, which orders the whole step chain, not only the reboot. Still
   * read so that existing stack files (and Pulumi.yaml's old default) keep planning: `true` is
   * maxUnavailable 1, `false` leaves maxUnavailable alone; see lib/desired/rollout.ts rolloutProblems.
   */
  rollingReboots: z.boolean().optional(),
  /** How many hosts are changed at once: a batch's whole chain waits for the previous batch's host checks. */
  maxUnavailable: z
    .number()
    .int()
    .min(1, { error: "must be at least 1 (one host changed at a time)" })
    .max(CONFIG_LIMITS.hosts)
    .default(1),
  /** Disable nova-compute through Nova's API around a host's change, and handle its guests. */
  maintenance: z.boolean().default(true),
  /**
   * For the first `pulumi up` after upgrading a stack whose hosts are already prepared: the new
   * maintenance resources record the hosts as they are instead of disabling them. Remove it after.
   */
  adoptPreparedHosts: z.boolean().default(false),
  guests: z
    .enum(GUEST_POLICIES, {
      error: `must be one of ${GUEST_POLICIES.join(", ")}: what to do with guests on a host that is about to change`,
    })
    .default("refuse"),
  migrationTimeoutSeconds: waitSeconds(1800),
  /** `protect` on the image and aggregate, and flavor revisions kept when superseded (other stacks consume them). */
  protect: z.boolean().default(true),
  rebootTimeoutSeconds: waitSeconds(900),
});

/** A host running nova-scheduler, and who owns its nova.conf (`nova`, as for compute hosts). */
const controllerObject = z.strictObject({
  ssh: sshTarget.extend({ proxy: sshTarget.optional() }),
  // cpuPowerManagement is nova-compute's: a scheduler has no dedicated CPUs.
  nova: novaOwnerSchema.omit({ cpuPowerManagement: true }).optional(),
});

/** The controller whose nova-scheduler gets the RT filters; false leaves the scheduler to the operator. */
const controllerSchema = z.union([z.literal(false), controllerObject], {
  error:
    "must be false or {ssh: {host, user, port, hostKey, proxy}, nova}; several schedulers go in controllers: [...]",
});

const aggregateSchema = z.strictObject({
  name: resourceName.default("realtime"),
  zone: resourceName.optional(),
  metadata: boundedMap(/^[A-Za-z0-9_.-]{1,255}$/, z.string().regex(/^[A-Za-z0-9_.-]{1,255}$/)).default({
    realtime: "true",
  }),
});

/** Every key of the stack config, without the `openstack-rt:` namespace. */
export const stackConfigSchema = z.strictObject({
  /** Who owns nova-compute's config on every host (a host's own `nova` overrides it key by key). */
  nova: novaOwnerSchema.default({}),
  hosts: z.array(hostSchema).min(1).max(CONFIG_LIMITS.hosts),
  controller: controllerSchema.default(false),
  /** Every nova-scheduler of an HA control plane: each gets the filters (instead of `controller`). */
  controllers: z.array(controllerObject).max(32).default([]),
  flavors: z.array(flavorSchema).min(1).max(CONFIG_LIMITS.flavors),
  aggregate: aggregateSchema.default({ name: "realtime", metadata: { realtime: "true" } }),
  image: imageSchema,
  network: z.strictObject({ name: resourceName }),
  securityGroup: securityGroupSchema,
  keypair: z.strictObject({ name: resourceName, publicKey }),
  servers: z.array(serverSchema).max(CONFIG_LIMITS.servers).default([]),
  latency: latencySchema.default({ host: HOST_LATENCY_DEFAULTS, guest: GUEST_LATENCY_DEFAULTS }),
  deployment: deploymentSchema.default({
    maxUnavailable: 1,
    maintenance: true,
    adoptPreparedHosts: false,
    guests: "refuse",
    migrationTimeoutSeconds: 1800,
    protect: true,
    rebootTimeoutSeconds: 900,
  }),
});

export type StackConfig = z.output<typeof stackConfigSchema>;
export type HostConfig = StackConfig["hosts"][number];
export type FlavorConfig = StackConfig["flavors"][number];
export type NumaNodeConfig = z.output<typeof numaNode>;

/** Keys the program reads as secrets, outside the schema so they never land in a plan. */
export const SECRET_KEYS = ["sshPrivateKey"] as const;

/** Renders a zod path as the setting's name: `openstack-rt:hosts[0].ssh.port`. */
export function settingPath(path: readonly PropertyKey[]): string {
  let out = CONFIG_NAMESPACE;
  path.forEach((p, i) => {
    if (typeof p === "number") out += `[${p}]`;
    else out += i === 0 ? `:${String(p)}` : `.${String(p)}`;
  });
  return out;
}

export type ParseResult = { ok: true; config: StackConfig } | { ok: false; problems: Problem[] };

/** Validates the raw values of the stack's config keys (namespace stripped). */
export function parseStackConfig(raw: Record<string, unknown>): ParseResult {
  const result = stackConfigSchema.safeParse(raw, { reportInput: true });
  if (result.success) return { ok: true, config: result.data };
  const problems = result.error.issues.flatMap(explainUnion).map((issue) => {
    if (issue.code === "unrecognized_keys") {
      const allowed = allowedKeys(issue.path);
      const meant = issue.keys.length === 1 ? closestName(issue.keys[0], allowed) : undefined;
      return {
        path: settingPath(issue.path),
        message:
          `unknown setting${issue.keys.length > 1 ? "s" : ""} ${namedKeys(issue.keys)}` +
          `${meant === undefined ? "" : ` (did you mean "${meant}"?)`}; allowed here: ${allowed.join(", ")}`,
      };
    }
    const got = issue.input === undefined ? "nothing (the setting is required)" : show(issue.input);
    return { path: settingPath(issue.path), message: `got ${got}; ${issue.message}` };
  });
  return { ok: false, problems };
}

/** Keys for a message: the first ten, each quoted short, and how many more there are. */
function namedKeys(keys: readonly string[]): string {
  const named = keys.slice(0, 10).map((k) => show(k));
  return keys.length > 10 ? `${named.join(", ")} and ${keys.length - 10} more` : named.join(", ");
}

/**
 * A value that matches no branch of a union ("discover" or declared nodes, a count or a list) is
 * best explained by the branch that got furthest into it: the one whose issues lie deepest.
 */
function explainUnion(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== "invalid_union" || issue.errors.length === 0) return [issue];
  const depth = (issues: z.core.$ZodIssue[]) => Math.max(...issues.map((i) => i.path.length));
  const best = issue.errors.reduce((a, b) => (depth(b) > depth(a) ? b : a));
  if (depth(best) === 0) return [issue];
  return best.flatMap((i) => explainUnion({ ...i, path: [...issue.path, ...i.path] }));
}

/** Names the keys an object in the schema accepts, for "unknown setting" errors. */
function allowedKeys(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType = stackConfigSchema;
  for (const p of path) {
    schema = unwrap(schema);
    if (schema instanceof z.ZodObject) schema = (schema.shape as Record<string, z.ZodType>)[String(p)];
    else if (schema instanceof z.ZodArray) schema = schema.element as z.ZodType;
    else if (schema instanceof z.ZodUnion)
      schema = (schema.options as z.ZodType[]).find((o) => unwrap(o) instanceof z.ZodObject) ?? schema;
  }
  schema = unwrap(schema);
  if (schema instanceof z.ZodUnion)
    schema = (schema.options as z.ZodType[]).map(unwrap).find((o) => o instanceof z.ZodObject) ?? schema;
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodDefault || s instanceof z.ZodOptional) s = s.unwrap() as z.ZodType;
  return s;
}
