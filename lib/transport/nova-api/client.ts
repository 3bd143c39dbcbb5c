/**
 * A small typed client for the Keystone v3 and Nova calls host maintenance needs: a token
 * (password, token or application credential), the compute endpoint from the catalog, and
 * os-services, servers by host, live migration and the server's migrations, each at an
 * explicit compute microversion. Errors name the call and Nova's message, never the token or
 * the password.
 */
import { codedError } from "../../errors";
import { terminalText } from "../../terminal-text";
import type { OpenStackCredentials } from "./credentials";

/** The compute microversions used: each is the lowest that has what the call needs. */
export const MICROVERSIONS = {
  /** os-services by UUID, PUT /os-services/{id} with status and disabled_reason. */
  services: "2.53",
  /** servers/detail with all_tenants and host (admin), OS-EXT-SRV-ATTR:host. */
  servers: "2.53",
  /** os-migrateLive with block_migration "auto" and no host: the scheduler picks the target. */
  liveMigrate: "2.30",
  /** GET /servers/{id}/migrations with memory_processed/total_bytes. */
  migrations: "2.59",
} as const;

export interface NovaSession {
  token: string;
  computeUrl: string;
  /** ms; each HTTP call is bounded by it. */
  timeoutMs: number;
  fetch: typeof fetch;
}

export interface ComputeService {
  id: string;
  host: string;
  binary: string;
  status: "enabled" | "disabled";
  state: "up" | "down";
  disabledReason: string | null;
  zone: string;
}

export interface ServerSummary {
  id: string;
  name: string;
  projectId: string;
  status: string;
  host: string | null;
  taskState: string | null;
}

export interface MigrationProgress {
  id: number;
  status: string;
  memoryProcessedBytes: number | null;
  memoryTotalBytes: number | null;
}

interface Catalog {
  type: string;
  endpoints: { interface: string; region?: string; region_id?: string; url: string }[];
}

function identity(c: OpenStackCredentials): Record<string, unknown> {
  if (c.applicationCredentialId !== undefined && c.applicationCredentialSecret !== undefined)
    return {
      methods: ["application_credential"],
      application_credential: { id: c.applicationCredentialId, secret: c.applicationCredentialSecret },
    };
  if (c.password !== undefined && (c.userName !== undefined || c.userId !== undefined)) {
    const domain = c.userDomainId !== undefined ? { id: c.userDomainId } : { name: c.userDomainName ?? "Default" };
    const user = c.userId !== undefined ? { id: c.userId } : { name: c.userName, domain };
    return { methods: ["password"], password: { user: { ...user, password: c.password } } };
  }
  return { methods: ["token"], token: { id: c.token } };
}

function scope(c: OpenStackCredentials): Record<string, unknown> | undefined {
  if (c.applicationCredentialId !== undefined) return undefined; // scoped by the credential itself
  if (c.projectId !== undefined) return { project: { id: c.projectId } };
  if (c.projectName !== undefined) {
    const domain =
      c.projectDomainId !== undefined ? { id: c.projectDomainId } : { name: c.projectDomainName ?? "Default" };
    return { project: { name: c.projectName, domain } };
  }
  return undefined;
}

/** Nova's and Keystone's error bodies: {"badRequest": {"message": ...}} or {"error": {"message": ...}}. */
function errorMessage(text: string): string {
  try {
    const body = JSON.parse(text) as Record<string, { message?: unknown }>;
    for (const v of Object.values(body))
      if (v && typeof v === "object" && typeof v.message === "string") return terminalText(v.message.slice(0, 500));
  } catch {
    // not JSON
  }
  return bodyExcerpt(text);
}

/** The start of a body that is not the JSON expected (an HTML error page of a proxy), one line, terminal-safe. */
function bodyExcerpt(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat === "" ? "an empty body" : terminalText(JSON.stringify(flat.slice(0, 200)));
}

/**
 * The JSON body of a successful answer, or an error that names the call, its status and what
 * came instead: a load balancer or proxy in front of the API answers with HTML.
 */
async function jsonBody<T>(what: string, method: string, url: string, res: Response): Promise<T> {
  const text = await res.text();
  if (text === "") return {} as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    const type = res.headers.get("content-type") ?? "no Content-Type";
    throw codedError(
      "nova-api",
      `${what}: ${method} ${new URL(url).pathname} returned ${res.status} with a body that is not JSON (${terminalText(type)}): ${bodyExcerpt(text)}; ` +
        "is the endpoint (the catalog's URL, a proxy in front of it) the API's?",
      { status: res.status },
    );
  }
}

async function request(
  fetchImpl: typeof fetch,
  what: string,
  url: string,
  init: RequestInit,
  timeoutMs: number,
): Promise<Response> {
  let res: Response;
  try {
    res = await fetchImpl(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (e as Error).name ?? "error";
    throw codedError("nova-api", `${what}: ${url.split("?")[0]} did not answer (${reason}, ${timeoutMs} ms at most)`);
  }
  if (!res.ok)
    throw codedError(
      "nova-api",
      `${what}: ${init.method ?? "GET"} ${new URL(url).pathname} returned ${res.status}: ${errorMessage(await res.text())}`,
      { status: res.status },
    );
  return res;
}

/** A Keystone v3 token and the compute endpoint of its catalog. */
export async function authenticate(
  c: OpenStackCredentials,
  options: { fetch?: typeof fetch; timeoutMs?: number } = {},
): Promise<NovaSession> {
  const fetchImpl = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const base = c.authUrl.replace(/\/+$/, "");
  const url = /\/v3$/.test(base) ? `${base}/auth/tokens` : `${base}/v3/auth/tokens`;
  const s = scope(c);
  const res = await request(
    fetchImpl,
    "Keystone authentication",
    url,
    {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ auth: { identity: identity(c), ...(s === undefined ? {} : { scope: s }) } }),
    },
    timeoutMs,
  );
  const body = await jsonBody<{ token?: { catalog?: Catalog[] } }>("Keystone authentication", "POST", url, res);
  const token = res.headers.get("x-subject-token");
  if (token === null) throw codedError("nova-api", "Keystone authentication: the answer carried no X-Subject-Token");
  const wanted = (c.interface ?? "public").replace(/URL$/, "");
  const compute = (body.token?.catalog ?? []).find((e) => e.type === "compute");
  const endpoint = compute?.endpoints.find(
    (e) => e.interface === wanted && (c.region === undefined || (e.region_id ?? e.region) === c.region),
  );
  if (endpoint === undefined)
    throw codedError(
      "nova-api",
      `Keystone's catalog has no compute endpoint of interface ${wanted}${c.region === undefined ? "" : ` in region ${c.region}`}` +
        " (openstack:region / OS_REGION_NAME, openstack:endpointType / OS_INTERFACE); is the project scoped?",
    );
  return { token, computeUrl: endpoint.url.replace(/\/+$/, ""), timeoutMs, fetch: fetchImpl };
}

async function compute<T>(
  s: NovaSession,
  what: string,
  method: string,
  path: string,
  microversion: string,
  body?: unknown,
): Promise<T> {
  const res = await request(
    s.fetch,
    what,
    `${s.computeUrl}${path}`,
    {
      method,
      headers: {
        "X-Auth-Token": s.token,
        "OpenStack-API-Version": `compute ${microversion}`,
        "X-OpenStack-Nova-API-Version": microversion,
        Accept: "application/json",
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    },
    s.timeoutMs,
  );
  return jsonBody<T>(what, method, `${s.computeUrl}${path}`, res);
}

interface RawService {
  id: string;
  host: string;
  binary: string;
  status: "enabled" | "disabled";
  state: "up" | "down";
  disabled_reason: string | null;
  zone: string;
}
const toService = (r: RawService): ComputeService => ({
  id: r.id,
  host: r.host,
  binary: r.binary,
  status: r.status,
  state: r.state,
  disabledReason: r.disabled_reason,
  zone: r.zone,
});

/** The nova-compute services of `host` (one, or none when the host never registered). */
export async function computeServices(s: NovaSession, host: string): Promise<ComputeService[]> {
  const q = new URLSearchParams({ binary: "nova-compute", host });
  const r = await compute<{ services: RawService[] }>(
    s,
    `listing nova-compute on ${host}`,
    "GET",
    `/os-services?${q.toString()}`,
    MICROVERSIONS.services,
  );
  return r.services.filter((x) => x.host === host && x.binary === "nova-compute").map(toService);
}

/** Disables the service with a reason, or enables it (Nova then clears the reason). */
export async function setServiceStatus(
  s: NovaSession,
  service: Pick<ComputeService, "id" | "host">,
  change: { enabled: true } | { enabled: false; reason: string },
): Promise<ComputeService> {
  const body = change.enabled ? { status: "enabled" } : { status: "disabled", disabled_reason: change.reason };
  const r = await compute<{ service: RawService }>(
    s,
    `${change.enabled ? "enabling" : "disabling"} nova-compute on ${service.host}`,
    "PUT",
    `/os-services/${encodeURIComponent(service.id)}`,
    MICROVERSIONS.services,
    body,
  );
  return toService(r.service);
}

interface RawServer {
  id: string;
  name: string;
  tenant_id: string;
  status: string;
  "OS-EXT-SRV-ATTR:host"?: string | null;
  "OS-EXT-STS:task_state"?: string | null;
}
const toServer = (r: RawServer): ServerSummary => ({
  id: r.id,
  name: r.name,
  projectId: r.tenant_id,
  status: r.status,
  host: r["OS-EXT-SRV-ATTR:host"] ?? null,
  taskState: r["OS-EXT-STS:task_state"] ?? null,
});

/** Every server Nova places on `host`, of every project (admin), following the pages. */
export async function serversOnHost(s: NovaSession, host: string): Promise<ServerSummary[]> {
  const out: ServerSummary[] = [];
  let marker: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const q = new URLSearchParams({ all_tenants: "1", host, limit: "200", ...(marker ? { marker } : {}) });
    const r = await compute<{ servers: RawServer[]; servers_links?: { rel: string }[] }>(
      s,
      `listing the servers on ${host}`,
      "GET",
      `/servers/detail?${q.toString()}`,
      MICROVERSIONS.servers,
    );
    out.push(...r.servers.map(toServer).filter((x) => x.host === host));
    if (r.servers.length === 0 || !(r.servers_links ?? []).some((l) => l.rel === "next")) break;
    marker = r.servers.at(-1)!.id;
  }
  return out;
}

export async function getServer(s: NovaSession, id: string): Promise<ServerSummary> {
  const r = await compute<{ server: RawServer }>(
    s,
    `reading server ${id}`,
    "GET",
    `/servers/${encodeURIComponent(id)}`,
    MICROVERSIONS.servers,
  );
  return toServer(r.server);
}

/** Starts a live migration; the scheduler picks the target (and honours disabled services). */
export async function liveMigrate(s: NovaSession, id: string): Promise<void> {
  await compute(
    s,
    `live-migrating server ${id}`,
    "POST",
    `/servers/${encodeURIComponent(id)}/action`,
    MICROVERSIONS.liveMigrate,
    {
      "os-migrateLive": { host: null, block_migration: "auto" },
    },
  );
}

/** The server's in-progress live migrations with their memory progress. */
export async function migrations(s: NovaSession, id: string): Promise<MigrationProgress[]> {
  const r = await compute<{
    migrations: {
      id: number;
      status: string;
      memory_processed_bytes: number | null;
      memory_total_bytes: number | null;
    }[];
  }>(
    s,
    `reading the migrations of server ${id}`,
    "GET",
    `/servers/${encodeURIComponent(id)}/migrations`,
    MICROVERSIONS.migrations,
  );
  return r.migrations.map((m) => ({
    id: m.id,
    status: m.status,
    memoryProcessedBytes: m.memory_processed_bytes,
    memoryTotalBytes: m.memory_total_bytes,
  }));
}
