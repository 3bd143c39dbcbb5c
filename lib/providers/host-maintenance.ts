/**
 * The provider of HostMaintenance and HostMaintenanceEnd (components/host/host-maintenance.ts): takes
 * an RT host out of Nova's scheduling before its prep changes it, and back in after its host
 * checks pass, through Nova's API (lib/transport/nova-api/).
 *
 * - start: disables the host's nova-compute with a reason naming the stack, then handles the
 *   guests on it by `guests`: "refuse" fails with their list (the service stays disabled, so no
 *   new guest lands while they are moved off), "live-migrate" moves them one at a time and waits,
 *   bounded, "ignore" goes on and returns a warning the component logs.
 * - end: enables the service again, only when the start disabled it (an operator's own disable,
 *   with another reason, is left alone).
 *
 * Both take the change digest of the host's steps as input: a host whose steps do not change
 * runs neither. Credentials come from `configure` (the stack's `openstack:*` config), the
 * `OS_*` environment or clouds.yaml, read at each operation; they are never inputs, outputs or
 * state, and no message carries them. `check` and `diff` do no I/O (they run in previews).
 * `delete` does nothing: a host removed from the stack keeps its service state.
 */
import type * as pulumi from "@pulumi/pulumi";
import { codedError, hasCode, messageOf } from "../errors";
import type { ComputeService, NovaSession, ServerSummary } from "../transport/nova-api/client";
import {
  computeServices,
  getServer,
  liveMigrate,
  migrations,
  serversOnHost,
  setServiceStatus,
} from "../transport/nova-api/client";
import { openstackSession } from "./openstack-session";
import type { GuestPolicy } from "../desired/maintenance";
import { decideGuests, disabledByStack, maintenanceReason, reenableHint } from "../desired/maintenance";
import { known, nonEmptyString, positiveInteger } from "./inputs";

export interface MaintenanceStartInputs {
  phase: "start";
  hostName: string;
  stack: string;
  changeDigest: string;
  guests: GuestPolicy;
  migrationTimeoutSeconds: number;
  /**
   * Only for `create`: record the host as it is (an existing stack's first run with host
   * maintenance, whose steps will not run again) instead of disabling it.
   */
  adopt?: boolean;
}

export interface MaintenanceStartState extends MaintenanceStartInputs {
  /** This stack disabled the service (now or in a run that failed): the end enables it. */
  disabledByStack: boolean;
  /** What was found and done, one line each, for the operator. */
  report: string[];
  /** Set when guests were ignored: the component logs it as a warning. */
  warning: string;
}

export interface MaintenanceEndInputs {
  phase: "end";
  hostName: string;
  stack: string;
  changeDigest: string;
  disabledByStack: boolean;
}

export interface MaintenanceEndState extends MaintenanceEndInputs {
  report: string[];
}

export type MaintenanceInputs = MaintenanceStartInputs | MaintenanceEndInputs;
export type MaintenanceState = MaintenanceStartState | MaintenanceEndState;

/** Waiting and progress while guests are migrated; injectable for tests. */
export interface MigrationClock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  intervalMs: number;
  progress?: (line: string) => void;
}

const realClock: MigrationClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  intervalMs: 5_000,
};

const describe = (g: ServerSummary) => `${g.name} (${g.id}, project ${g.projectId})`;

/** An answer that may come right on the next try: a 5xx (a restarting nova-api, a proxy's 502) or no answer at all. */
function transient(e: unknown): boolean {
  if (!hasCode(e, "nova-api")) return false;
  const status = (e as { status?: unknown }).status;
  return typeof status !== "number" || status >= 500;
}

/**
 * A read while guests migrate, tried again after a transient failure until the migration's
 * deadline: a nova-api restart or a proxy hiccup must not fail a migration Nova carries on with.
 */
async function polled<T>(read: () => Promise<T>, deadline: number, clock: MigrationClock, what: string): Promise<T> {
  for (;;) {
    try {
      return await read();
    } catch (e) {
      if (!transient(e) || clock.now() + clock.intervalMs >= deadline) throw e;
      clock.progress?.(`${what}: ${messageOf(e)}; trying again`);
      await clock.sleep(clock.intervalMs);
    }
  }
}

async function theService(s: NovaSession, host: string): Promise<ComputeService | undefined> {
  const services = await computeServices(s, host);
  if (services.length > 1)
    throw codedError("maintenance", `Nova lists ${services.length} nova-compute services on ${host}; expected one`);
  return services[0];
}

/** Live-migrates each guest off `host`, one at a time, within `timeoutMs` for all of them. */
async function migrateOff(
  s: NovaSession,
  host: string,
  guests: readonly ServerSummary[],
  timeoutMs: number,
  clock: MigrationClock,
  report: string[],
): Promise<void> {
  const deadline = clock.now() + timeoutMs;
  const note = (line: string) => {
    report.push(line);
    clock.progress?.(line);
  };
  for (const [i, g] of guests.entries()) {
    note(`live-migrating ${describe(g)} off ${host} (${i + 1} of ${guests.length})`);
    await liveMigrate(s, g.id);
    let last = "";
    for (;;) {
      const now = await polled(() => getServer(s, g.id), deadline, clock, `reading ${g.name}`);
      if (now.status === "ERROR")
        throw codedError("maintenance", `the live migration of ${describe(g)} off ${host} left it in ERROR`);
      if (now.host !== host && now.status === "ACTIVE" && now.taskState === null) {
        note(`${g.name} now runs on ${now.host}`);
        break;
      }
      if (now.host === host && now.status === "ACTIVE" && now.taskState === null && last !== "") {
        // Back to ACTIVE on the same host: Nova gave up (no other host fits, or the migration failed).
        throw codedError(
          "maintenance",
          `the live migration of ${describe(g)} off ${host} ended with the server still there ` +
            `(no other host could take it, or the migration failed: see \`openstack server migration list --server ${g.id}\`)`,
        );
      }
      const m = (await migrations(s, g.id).catch(() => [])).at(0);
      const pct =
        m?.memoryTotalBytes && m.memoryProcessedBytes !== null
          ? `, memory ${Math.round((100 * m.memoryProcessedBytes) / m.memoryTotalBytes)}%`
          : "";
      const line = `${g.name}: ${now.status}/${now.taskState ?? "-"} on ${now.host}${m ? `, migration ${m.status}${pct}` : ""}`;
      if (line !== last) clock.progress?.(line);
      last = line;
      if (clock.now() >= deadline)
        throw codedError(
          "maintenance",
          `the guests of ${host} were not migrated within deployment.migrationTimeoutSeconds (${timeoutMs / 1000} s): ` +
            `last seen ${line}. Done so far: ${report.join("; ")}`,
        );
      await clock.sleep(clock.intervalMs);
    }
  }
  const left = await polled(() => serversOnHost(s, host), deadline, clock, `listing the servers on ${host}`);
  if (left.length > 0)
    throw codedError(
      "maintenance",
      `after the live migrations, ${host} still runs ${left.map(describe).join(", ")} (new or not migratable)`,
    );
}

/** Disables the service (when it is this stack's to disable) and handles the guests on the host. */
async function handleGuests(
  s: NovaSession,
  i: MaintenanceStartInputs,
  service: ComputeService,
  ours: boolean,
  clock: MigrationClock,
  report: string[],
): Promise<MaintenanceStartState> {
  let warning = "";
  if (!ours)
    report.push(
      `nova-compute on ${i.hostName} was already disabled by someone else (${JSON.stringify(service.disabledReason)}); left as it is`,
    );
  else if (service.status === "disabled")
    report.push(`nova-compute on ${i.hostName} stays disabled (a previous run of ${i.stack})`);
  else {
    await setServiceStatus(s, service, { enabled: false, reason: maintenanceReason(i.stack) });
    report.push(`disabled nova-compute on ${i.hostName}: ${maintenanceReason(i.stack)}`);
  }
  const guests = await serversOnHost(s, i.hostName);
  report.push(
    `${guests.length} guest(s) on ${i.hostName}${guests.length ? `: ${guests.map(describe).join(", ")}` : ""}`,
  );
  const decision = decideGuests(
    i.hostName,
    i.guests,
    guests.map((g) => ({ id: g.id, name: g.name, projectId: g.projectId, status: g.status })),
  );
  if (decision.action === "refuse") throw codedError("guests-refused", decision.message);
  if (decision.action === "ignore") {
    warning = decision.warning;
    report.push(warning);
  }
  if (decision.action === "live-migrate") {
    const byId = new Map(guests.map((g) => [g.id, g]));
    await migrateOff(
      s,
      i.hostName,
      decision.guests.map((g) => byId.get(g.id)!),
      i.migrationTimeoutSeconds * 1000,
      clock,
      report,
    );
  }
  return { ...i, disabledByStack: ours, report, warning };
}

/** The start of a host's maintenance against Nova; see the module comment. */
export async function startMaintenance(
  s: NovaSession,
  i: MaintenanceStartInputs,
  clock: MigrationClock = realClock,
): Promise<MaintenanceStartState> {
  const report: string[] = [];
  const service = await theService(s, i.hostName);
  if (service === undefined) {
    // A host whose nova-compute never registered runs no guest and takes none.
    report.push(`Nova lists no nova-compute on ${i.hostName}: nothing to disable`);
    return { ...i, disabledByStack: false, report, warning: "" };
  }
  const ours = service.status !== "disabled" || disabledByStack(service.disabledReason, i.stack);
  // From here on the service is disabled (or may be, when the disable itself failed): every
  // failure says so, and how to enable it again.
  const stays = ours
    ? `nova-compute on ${i.hostName} stays disabled: ${reenableHint(i.hostName)}`
    : `nova-compute on ${i.hostName} stays disabled, as someone else left it (${JSON.stringify(service.disabledReason)})`;
  try {
    return await handleGuests(s, i, service, ours, clock, report);
  } catch (e) {
    if (hasCode(e, "guests-refused")) throw e; // its message says it already
    throw codedError("maintenance", `${messageOf(e)}. Nothing on ${i.hostName} was changed; ${stays}`);
  }
}

/** The end of a host's maintenance: enables what the start disabled. */
export async function endMaintenance(s: NovaSession, i: MaintenanceEndInputs): Promise<MaintenanceEndState> {
  const report: string[] = [];
  if (!i.disabledByStack) {
    report.push(`nova-compute on ${i.hostName} was not disabled by ${i.stack}: left as it is`);
    return { ...i, report };
  }
  const service = await theService(s, i.hostName);
  if (service === undefined) report.push(`Nova lists no nova-compute on ${i.hostName}: nothing to enable`);
  else if (service.status === "enabled") report.push(`nova-compute on ${i.hostName} is already enabled`);
  else if (!disabledByStack(service.disabledReason, i.stack))
    report.push(
      `nova-compute on ${i.hostName} was disabled again by someone else (${JSON.stringify(service.disabledReason)}); left disabled`,
    );
  else {
    try {
      await setServiceStatus(s, service, { enabled: true });
    } catch (e) {
      throw codedError(
        "maintenance",
        `${messageOf(e)}. The host checks of ${i.hostName} passed, but nova-compute there stays disabled: ${reenableHint(i.hostName)}`,
      );
    }
    report.push(`enabled nova-compute on ${i.hostName} after its host checks passed`);
  }
  return { ...i, report };
}

/**
 * The inputs whose change runs a phase again. Not `guests` or `migrationTimeoutSeconds`: a new
 * policy alone changes no host, and a start run without its end would leave the host disabled.
 */
const INPUT_KEYS = {
  start: ["phase", "hostName", "stack", "changeDigest"],
  end: ["phase", "hostName", "stack", "changeDigest", "disabledByStack"],
} as const;

function makeHostMaintenanceProvider(
  options: { env?: NodeJS.ProcessEnv; clock?: MigrationClock; fetch?: typeof fetch } = {},
): pulumi.dynamic.ResourceProvider<MaintenanceInputs, MaintenanceState> {
  const openstack = openstackSession(options);
  const session = async (): Promise<NovaSession> => {
    try {
      return await openstack.session();
    } catch (e) {
      throw codedError("maintenance", `host maintenance cannot reach Nova: ${messageOf(e)}`);
    }
  };
  const run = async (i: MaintenanceInputs): Promise<MaintenanceState> => {
    const s = await session();
    return i.phase === "start" ? startMaintenance(s, i, options.clock) : endMaintenance(s, i);
  };
  return {
    configure: openstack.configure,
    check: (_olds, news) => {
      const phase = news.phase as string;
      const failures = [
        ...(!known(phase) || phase === "start" || phase === "end"
          ? []
          : [{ property: "phase", reason: 'must be "start" or "end"' }]),
        ...nonEmptyString(news.hostName, "hostName", "must be the nova-compute service host name"),
        ...nonEmptyString(news.stack, "stack", "must name the stack"),
        ...nonEmptyString(news.changeDigest, "changeDigest", "must be the digest of the host's steps"),
        ...(news.phase === "start"
          ? [
              ...(news.adopt !== undefined && known(news.adopt) && typeof news.adopt !== "boolean"
                ? [{ property: "adopt", reason: "must be true or false" }]
                : []),
              ...(known(news.guests) && !["refuse", "live-migrate", "ignore"].includes(news.guests)
                ? [{ property: "guests", reason: 'must be "refuse", "live-migrate" or "ignore"' }]
                : []),
              ...positiveInteger(news.migrationTimeoutSeconds, "migrationTimeoutSeconds", "must be whole seconds"),
            ]
          : []),
      ];
      return Promise.resolve(failures.length > 0 ? { inputs: news, failures } : { inputs: news });
    },
    diff: (_id, olds, news) => {
      const keys: readonly string[] = INPUT_KEYS[news.phase] ?? [...INPUT_KEYS.start, ...INPUT_KEYS.end];
      const changed = keys.filter(
        (k) =>
          JSON.stringify((olds as unknown as Record<string, unknown>)[k]) !==
          JSON.stringify((news as unknown as Record<string, unknown>)[k]),
      );
      return Promise.resolve({
        changes: changed.length > 0,
        replaces: changed.includes("hostName") ? ["hostName"] : [],
      });
    },
    create: async (inputs) => ({
      id: `${inputs.hostName}-${inputs.phase}`,
      outs:
        inputs.phase === "start" && inputs.adopt === true
          ? {
              ...inputs,
              disabledByStack: false,
              report: [`adopted ${inputs.hostName} as it is (deployment.adoptPreparedHosts): not disabled`],
              warning: "",
            }
          : await run(inputs),
    }),
    update: async (_id, _olds, news) => ({ outs: await run(news) }),
    delete: () => Promise.resolve(),
  };
}

export { makeHostMaintenanceProvider };
export const hostMaintenanceProvider = makeHostMaintenanceProvider();
