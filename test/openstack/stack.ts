/**
 * A real OpenStack for `npm run test:openstack`, from Debian 12's packages (OpenStack Zed), as
 * plain processes on 127.0.0.1 with their own ports, config, data and logs under one temp dir:
 * MariaDB, RabbitMQ, Keystone and Placement (uwsgi), Glance, nova-api, nova-conductor,
 * nova-scheduler, libvirtd and nova-compute on this machine, and a network endpoint (network.ts).
 * Nothing is written outside the temp dir except what a compute host has system-wide: libvirt's
 * /run/libvirt and /var/lib/libvirt, and the 2 MiB page pool (restored at the end).
 *
 * nova-compute and nova-scheduler read a base file written here plus the settings the
 * program's steps write (hostprep/nova-compute.sh, hostprep/scheduler.sh): each runs under
 * supervise.sh, and restart-service.sh is the restart command those steps run.
 */
import type { ChildProcess } from "node:child_process";
import { execFile, execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../support/sshd";
import type { NetworkEndpoint } from "./network";
import { startNetworkEndpoint } from "./network";

const run = promisify(execFile);
const HERE = __dirname;

/** The Debian packages this cloud runs; `.ci/run` installs them. */
export const PACKAGES = [
  "mariadb-server",
  "python3-pymysql",
  "rabbitmq-server",
  "keystone",
  "placement-api",
  "glance",
  "nova-api",
  "nova-conductor",
  "nova-scheduler",
  "nova-compute",
  "nova-compute-kvm",
  "libvirt-daemon-system",
  "qemu-system-x86",
  "genisoimage",
  "uwsgi-core",
  "uwsgi-plugin-python3",
  "gcc",
  "libc6-dev",
];
const COMMANDS: Record<string, string> = {
  "/usr/sbin/mariadbd": "mariadb-server",
  "/usr/bin/mariadb-install-db": "mariadb-server",
  "/usr/lib/rabbitmq/bin/rabbitmq-server": "rabbitmq-server",
  "/usr/bin/keystone-wsgi-public": "keystone",
  "/usr/bin/placement-api": "placement-api",
  "/usr/bin/glance-api": "glance",
  "/usr/bin/nova-api": "nova-api",
  "/usr/bin/nova-conductor": "nova-conductor",
  "/usr/bin/nova-scheduler": "nova-scheduler",
  "/usr/bin/nova-compute": "nova-compute",
  "/usr/sbin/libvirtd": "libvirt-daemon-system",
  "/usr/bin/qemu-system-x86_64": "qemu-system-x86",
  "/usr/bin/genisoimage": "genisoimage",
  "/usr/bin/uwsgi": "uwsgi-core",
  "/usr/lib/uwsgi/plugins/python3_plugin.so": "uwsgi-plugin-python3",
  "/usr/bin/gcc": "gcc",
};

/** Null when everything is installed; otherwise what to install, for the test's skip message. */
export function missingPackages(): string | null {
  const missing = [...new Set(Object.entries(COMMANDS).flatMap(([f, p]) => (existsSync(f) ? [] : [p])))];
  let pymysql = true;
  try {
    execFileSync("/usr/bin/python3", ["-c", "import pymysql"], { stdio: "ignore" });
  } catch {
    pymysql = false;
  }
  if (!pymysql) missing.push("python3-pymysql");
  if (missing.length === 0) return null;
  return `missing Debian packages: ${missing.join(" ")}; install them (as root): apt-get install --no-install-recommends ${PACKAGES.join(" ")} (.ci/run does)`;
}

export interface OpenStackCloud {
  dir: string;
  logDir: string;
  region: string;
  authUrl: string;
  user: string;
  password: string;
  project: string;
  computeUrl: string;
  placementUrl: string;
  imageUrl: string;
  network: NetworkEndpoint;
  /** nova-compute's `host`: the stack's host name, so the aggregate and the maintenance provider find it. */
  computeHost: string;
  /** The file nova-compute.sh edits (nova.configPath of the stack's host) and its restart command. */
  computeConf: string;
  computeRestart: string;
  /** The file scheduler.sh edits (nova.configPath of the controller) and its restart command. */
  schedulerConf: string;
  schedulerRestart: string;
  /** SQL on the cloud's MariaDB; rows as tab-separated lines. */
  sql(query: string): Promise<string>;
  /** nova-manage with the control plane's config. */
  novaManage(...args: string[]): Promise<string>;
  /** Stops every process by its PID and removes the domains Nova defined. Keeps the temp dir (logs) when `keepLogs`. */
  stop(keepLogs: boolean): Promise<void>;
}

interface Service {
  name: string;
  child: ChildProcess;
}

const say = (line: string) => process.stdout.write(`# [openstack] ${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ini(sections: Record<string, Record<string, string | number | boolean>>): string {
  return Object.entries(sections)
    .map(
      ([s, kv]) =>
        `[${s}]\n${Object.entries(kv)
          .map(([k, v]) => `${k} = ${v}\n`)
          .join("")}`,
    )
    .join("\n");
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: "127.0.0.1", port }, () => (s.end(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

const HUGEPAGES_2M = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";

export interface StartOptions {
  computeHost: string;
  /** 2 MiB pages the kernel holds for guests, as host prep would after its reboot. */
  hugepages2m: number;
}

/**
 * Starts the cloud. On any failure every process started so far is stopped and the error names
 * the log directory, which is kept.
 */
export async function startOpenStack(opts: StartOptions): Promise<OpenStackCloud> {
  const dir = mkdtempSync(join(tmpdir(), "openstack-rt-cloud-"));
  const logDir = join(dir, "log");
  mkdirSync(logDir);
  const services: Service[] = [];
  const previousPages = readFileSync(HUGEPAGES_2M, "utf8").trim();
  let network: NetworkEndpoint | undefined;

  const domainsNow = (): string[] => {
    try {
      return execFileSync("virsh", ["--connect", "qemu:///system", "list", "--all", "--uuid"], {
        encoding: "utf8",
        timeout: 20_000,
        stdio: ["ignore", "pipe", "ignore"], // before libvirtd starts, virsh only complains
      })
        .split("\n")
        .map((l) => l.trim())
        .filter(Boolean);
    } catch {
      return [];
    }
  };

  // The domains libvirt had when it came up: only the ones Nova defines in this run are removed.
  let before: Set<string> | undefined;

  /** A long-running process in its own process group (QEMU, uwsgi and eventlet workers are its children), logging to log/<name>.log. */
  function start(name: string, cmd: string, args: string[], env: Record<string, string> = {}): ChildProcess {
    const fd = openSync(join(logDir, `${name}.log`), "a");
    const child = spawn(cmd, args, {
      cwd: dir,
      env: { ...process.env, ...env },
      stdio: ["ignore", fd, fd],
      detached: true,
    });
    closeSync(fd);
    services.push({ name, child });
    child.once("exit", (code, signal) => {
      if (!stopping) say(`${name} (pid ${child.pid}) exited: ${code ?? signal}; see ${join(logDir, `${name}.log`)}`);
    });
    return child;
  }

  async function waitFor(name: string, ready: () => Promise<boolean>, timeoutMs = 240_000): Promise<void> {
    const svc = services.find((s) => s.name === name);
    const started = Date.now();
    for (;;) {
      if (svc && svc.child.exitCode !== null)
        throw new Error(`${name} exited (${svc.child.exitCode}) before answering: see ${join(logDir, `${name}.log`)}`);
      if (await ready().catch(() => false)) {
        say(`${name} answering after ${((Date.now() - started) / 1000).toFixed(1)} s`);
        return;
      }
      if (Date.now() - started > timeoutMs)
        throw new Error(`${name} did not answer within ${timeoutMs / 1000} s: see ${join(logDir, `${name}.log`)}`);
      await sleep(500);
    }
  }
  const httpAnswers = (url: string) => async () =>
    (await fetch(url, { signal: AbortSignal.timeout(5000) })).status < 500;

  /** A setup command (db sync, bootstrap); its output goes to log/<name>.log. */
  async function once(name: string, cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
    try {
      const { stdout, stderr } = await run(cmd, args, {
        cwd: dir,
        env: { ...process.env, ...env },
        maxBuffer: 64 << 20,
        timeout: 300_000,
      });
      writeFileSync(join(logDir, `${name}.log`), stdout + stderr, { flag: "a" });
      return stdout;
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; message: string };
      writeFileSync(join(logDir, `${name}.log`), `${err.stdout ?? ""}${err.stderr ?? ""}`, { flag: "a" });
      throw new Error(`${name} failed: ${err.message.split("\n")[0]}; see ${join(logDir, `${name}.log`)}`);
    }
  }

  const restorePages = () => {
    try {
      writeFileSync(HUGEPAGES_2M, previousPages);
    } catch {
      // the pool shrinks as far as no page is in use; a held page is the kernel's to free
    }
  };
  let stopping = false;
  // If this process ends without stopAll (killed, or the runner gave up), its services go with it.
  // Nova defines its domains persistently: any domain that appeared while the cloud ran goes.
  const removeDomains = () => {
    for (const uuid of domainsNow()) {
      if (before === undefined || before.has(uuid)) continue;
      for (const verb of ["destroy", "undefine"]) {
        try {
          execFileSync(
            "virsh",
            ["--connect", "qemu:///system", verb, uuid, ...(verb === "undefine" ? ["--nvram"] : [])],
            {
              stdio: "ignore",
              timeout: 30_000,
            },
          );
        } catch {
          // destroy fails on a domain that is not running; undefine is what matters.
        }
      }
    }
  };
  const killAll = () => {
    removeDomains();
    services.forEach((s) => s.child.pid !== undefined && tryKill(-s.child.pid, "SIGKILL"));
    restorePages();
  };
  const onSignal = (signal: NodeJS.Signals) => (killAll(), process.exit(signal === "SIGINT" ? 130 : 143));
  process.once("exit", killAll);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  async function stopAll(keepLogs: boolean): Promise<void> {
    stopping = true;
    removeDomains();
    // Dependants first: nova-compute before libvirtd, everything before RabbitMQ and MariaDB.
    for (const svc of [...services].reverse()) {
      const pid = svc.child.pid;
      if (pid === undefined || svc.child.exitCode !== null || svc.child.signalCode !== null) continue;
      const exited = new Promise((r) => svc.child.once("exit", r));
      try {
        process.kill(-pid, "SIGTERM");
      } catch {
        continue;
      }
      const done = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
      if (!done) {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          // already gone
        }
        await exited;
      }
    }
    await network?.stop();
    process.off("exit", killAll);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    restorePages();
    if (keepLogs) say(`logs of this run: ${logDir}`);
    else rmSync(dir, { recursive: true, force: true });
  }

  try {
    const ports = {
      mysql: await freePort(),
      amqp: await freePort(),
      epmd: await freePort(),
      dist: await freePort(),
      keystone: await freePort(),
      placement: await freePort(),
      glance: await freePort(),
      nova: await freePort(),
    };
    const password = `test-${Math.random().toString(36).slice(2)}`;
    const region = "RegionOne";
    const base = (port: number) => `http://127.0.0.1:${port}`;
    const authUrl = `${base(ports.keystone)}/v3`;
    const db = (name: string) => `mysql+pymysql://root@127.0.0.1:${ports.mysql}/${name}`;
    for (const d of [
      "mysql",
      "rabbitmq",
      "keystone",
      "glance",
      "nova",
      "compute",
      "compute/instances",
      "run",
      "hugepages2M",
      "libvirt",
    ])
      mkdirSync(join(dir, d));

    // MariaDB: Keystone under uwsgi fails on SQLite ("database is locked"), Nova's services share
    // their databases. --skip-grant-tables: a throwaway server reachable only from 127.0.0.1.
    await once("mariadb-install-db", "mariadb-install-db", [
      "--no-defaults",
      `--datadir=${join(dir, "mysql")}`,
      "--user=root",
      "--skip-test-db",
      "--auth-root-authentication-method=normal",
    ]);
    start("mariadb", "/usr/sbin/mariadbd", [
      "--no-defaults",
      `--datadir=${join(dir, "mysql")}`,
      `--socket=${join(dir, "run", "mysql.sock")}`,
      `--pid-file=${join(dir, "run", "mysql.pid")}`,
      `--port=${ports.mysql}`,
      "--bind-address=127.0.0.1",
      "--user=root",
      "--skip-grant-tables",
      "--skip-name-resolve",
      "--innodb-flush-log-at-trx-commit=0",
      "--innodb-doublewrite=0",
      "--innodb-buffer-pool-size=128M",
      "--max-connections=500",
    ]);
    // RabbitMQ: oslo.messaging's `fake` driver works inside one process only. Its own epmd, so
    // nothing outlives the run.
    start("epmd", "epmd", ["-port", String(ports.epmd), "-address", "127.0.0.1"]);
    const rabbit = join(dir, "rabbitmq");
    writeFileSync(join(rabbit, "enabled_plugins"), "[].\n");
    writeFileSync(
      join(rabbit, "rabbitmq.conf"),
      `listeners.tcp.default = 127.0.0.1:${ports.amqp}\nloopback_users.guest = true\n`,
    );
    start("rabbitmq", "/usr/lib/rabbitmq/bin/rabbitmq-server", [], {
      HOME: rabbit,
      ERL_EPMD_PORT: String(ports.epmd),
      ERL_EPMD_ADDRESS: "127.0.0.1",
      RABBITMQ_NODENAME: "rabbit@localhost",
      RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
      RABBITMQ_NODE_PORT: String(ports.amqp),
      RABBITMQ_DIST_PORT: String(ports.dist),
      RABBITMQ_CONFIG_FILE: join(rabbit, "rabbitmq.conf"),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(rabbit, "enabled_plugins"),
      RABBITMQ_MNESIA_BASE: join(rabbit, "mnesia"),
      RABBITMQ_LOG_BASE: join(rabbit, "log"),
      RABBITMQ_LOGS: "-",
      RABBITMQ_PID_FILE: join(dir, "run", "rabbitmq.pid"),
      RABBITMQ_CONF_ENV_FILE: join(rabbit, "rabbitmq-env.conf"),
    });
    writeFileSync(join(rabbit, "rabbitmq-env.conf"), "");
    const transportUrl = `rabbit://guest:guest@127.0.0.1:${ports.amqp}/`;

    // libvirtd in its own mount namespace: there its qemu.conf (below) replaces the system one
    // and the 2 MiB hugetlbfs is mounted, both gone with the namespace. The sandbox's limits need
    // the shim (memlock-shim.c), the emulator's capabilities kept (QEMU's mlockall needs
    // CAP_IPC_LOCK) and no `cpu` cgroup controller (under RT group scheduling a child cgroup gets
    // cpu.rt_runtime_us=0 and the vCPU's SCHED_FIFO fails). A real root needs none of these.
    const shim = join(dir, "memlock-shim.so");
    await once("memlock-shim", "gcc", ["-shared", "-fPIC", "-O2", "-o", shim, join(HERE, "memlock-shim.c"), "-ldl"]);
    writeFileSync(HUGEPAGES_2M, String(opts.hugepages2m));
    const got = Number(readFileSync(HUGEPAGES_2M, "utf8").trim());
    if (got < opts.hugepages2m)
      throw new Error(`the kernel gave ${got} of ${opts.hugepages2m} 2 MiB pages: free memory and run again`);
    const hugetlbfs = join(dir, "hugepages2M");
    writeFileSync(
      join(dir, "libvirt", "qemu.conf"),
      [
        'user = "root"',
        'group = "root"',
        "clear_emulator_capabilities = 0",
        'cgroup_controllers = [ "devices", "memory", "blkio", "cpuset", "cpuacct" ]',
        `hugetlbfs_mount = [ "${hugetlbfs}" ]`,
        'stdio_handler = "file"',
        "remember_owner = 0",
        "",
      ].join("\n"),
    );
    start("libvirtd", "unshare", [
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      'mount --bind "$1" /etc/libvirt/qemu.conf && mount -t hugetlbfs -o pagesize=2M none "$2" && exec env LD_PRELOAD="$3" /usr/sbin/libvirtd',
      "libvirtd",
      join(dir, "libvirt", "qemu.conf"),
      hugetlbfs,
      shim,
    ]);

    await waitFor("mariadb", () => portOpen(ports.mysql));
    const sql = async (query: string) =>
      (
        await once("sql", "mariadb", [
          "--no-defaults",
          "-h",
          "127.0.0.1",
          "-P",
          String(ports.mysql),
          "-u",
          "root",
          "-N",
          "-B",
          "-e",
          query,
        ])
      ).trim();
    await sql(
      ["keystone", "placement", "glance", "nova_api", "nova", "nova_cell0"]
        .map((d) => `CREATE DATABASE ${d} CHARACTER SET utf8mb4;`)
        .join(" "),
    );

    const serviceAuth = {
      auth_url: authUrl,
      auth_type: "password",
      username: "admin",
      password,
      project_name: "admin",
      user_domain_name: "Default",
      project_domain_name: "Default",
      region_name: region,
    };
    const authtoken = { www_authenticate_uri: authUrl, ...serviceAuth };
    // uwsgi's own HTTP server: `Connection: close`, or it resets keystoneauth's keep-alive requests.
    const uwsgi = (name: string, port: number, wsgi: string, env: Record<string, string>) => {
      const conf = join(dir, `${name}-uwsgi.ini`);
      writeFileSync(
        conf,
        [
          "[uwsgi]",
          "plugins = python3",
          `http-socket = 127.0.0.1:${port}`,
          `wsgi-file = ${wsgi}`,
          "processes = 1",
          "threads = 4",
          "lazy-apps = true",
          "die-on-term = true",
          "add-header = Connection: close",
          "buffer-size = 65535",
          ...Object.entries(env).map(([k, v]) => `env = ${k}=${v}`),
          "",
        ].join("\n"),
      );
      return start(name, "uwsgi", ["--ini", conf]);
    };

    // Keystone
    const ks = join(dir, "keystone");
    writeFileSync(
      join(ks, "keystone.conf"),
      ini({
        DEFAULT: { log_file: join(logDir, "keystone-app.log") },
        database: { connection: db("keystone") },
        token: { provider: "fernet" },
        fernet_tokens: { key_repository: join(ks, "fernet-keys") },
        credential: { key_repository: join(ks, "credential-keys") },
      }),
    );
    const ksConf = ["--config-file", join(ks, "keystone.conf")];
    // Placement
    const pl = join(dir, "placement");
    mkdirSync(pl);
    writeFileSync(
      join(pl, "placement.conf"),
      ini({
        DEFAULT: { log_file: join(logDir, "placement-app.log") },
        placement_database: { connection: db("placement") },
        api: { auth_strategy: "keystone" },
        keystone_authtoken: authtoken,
      }),
    );
    // Glance: a file store under the temp dir.
    const gl = join(dir, "glance");
    writeFileSync(
      join(gl, "glance-api.conf"),
      ini({
        DEFAULT: {
          bind_host: "127.0.0.1",
          bind_port: ports.glance,
          workers: 1,
          log_file: join(logDir, "glance-api-app.log"),
          enabled_backends: "fs:file",
        },
        database: { connection: db("glance") },
        glance_store: { default_backend: "fs" },
        fs: { filesystem_store_datadir: join(gl, "images") },
        os_glance_staging_store: { filesystem_store_datadir: join(gl, "staging") },
        os_glance_tasks_store: { filesystem_store_datadir: join(gl, "tasks") },
        keystone_authtoken: authtoken,
        paste_deploy: { flavor: "keystone", config_file: "/etc/glance/glance-api-paste.ini" },
        oslo_concurrency: { lock_path: join(gl, "lock") },
      }),
    );
    // Nova's control plane: one file for nova-api and nova-conductor, and the scheduler's own
    // copy, which scheduler.sh edits (its --conf) and whose nova-scheduler it restarts.
    const nova = join(dir, "nova");
    const novaCommon = {
      transport_url: transportUrl,
      my_ip: "127.0.0.1",
      state_path: nova,
      log_dir: logDir,
      use_stderr: false,
      graceful_shutdown_timeout: 5,
    };
    const novaSections = {
      api_database: { connection: db("nova_api") },
      database: { connection: db("nova") },
      keystone_authtoken: authtoken,
      placement: serviceAuth,
      glance: { region_name: region },
      neutron: serviceAuth,
      service_user: { send_service_user_token: false },
      oslo_concurrency: { lock_path: join(nova, "lock") },
      oslo_messaging_notifications: { driver: "noop" },
      scheduler: { discover_hosts_in_cells_interval: -1 },
      wsgi: { api_paste_config: "/etc/nova/api-paste.ini" },
      conductor: { workers: 1 },
      api: { auth_strategy: "keystone" },
    };
    writeFileSync(
      join(nova, "nova.conf"),
      ini({
        DEFAULT: {
          ...novaCommon,
          enabled_apis: "osapi_compute",
          osapi_compute_listen: "127.0.0.1",
          osapi_compute_listen_port: ports.nova,
          osapi_compute_workers: 1,
        },
        ...novaSections,
      }),
    );
    const schedulerConf = join(nova, "nova-scheduler.conf");
    writeFileSync(
      schedulerConf,
      `# nova-scheduler's file; [filter_scheduler] enabled_filters comes from hostprep/scheduler.sh\n${ini({
        DEFAULT: novaCommon,
        ...novaSections,
        filter_scheduler: { available_filters: "nova.scheduler.filters.all_filters" },
      })}`,
    );
    // nova-compute's file, without database settings, as on a compute host; nova-compute.sh adds
    // the CPU sets and reserved memory and pages.
    const cmp = join(dir, "compute");
    const computeConf = join(cmp, "nova-compute.conf");
    writeFileSync(
      computeConf,
      `# nova-compute's file; [compute] cpu_dedicated_set and the reservations come from hostprep/nova-compute.sh\n${ini(
        {
          DEFAULT: {
            ...novaCommon,
            host: opts.computeHost,
            state_path: cmp,
            instances_path: join(cmp, "instances"),
            compute_driver: "libvirt.LibvirtDriver",
            log_dir: logDir,
            mkisofs_cmd: "genisoimage",
            heal_instance_info_cache_interval: -1,
          },
          libvirt: { virt_type: "qemu", cpu_mode: "none", connection_uri: "qemu:///system" },
          placement: serviceAuth,
          glance: { region_name: region },
          neutron: serviceAuth,
          service_user: { send_service_user_token: false },
          oslo_concurrency: { lock_path: join(cmp, "lock") },
          oslo_messaging_notifications: { driver: "noop" },
          vnc: { enabled: false },
          compute: {},
        },
      )}`,
    );
    const novaConf = ["--config-file", join(nova, "nova.conf")];
    const novaManage = (...args: string[]) => once("nova-manage", "nova-manage", [...novaConf, ...args]);

    await Promise.all([
      (async () => {
        await once("keystone-manage", "keystone-manage", [...ksConf, "db_sync"]);
        for (const sub of ["fernet_setup", "credential_setup"])
          await once("keystone-manage", "keystone-manage", [
            ...ksConf,
            sub,
            "--keystone-user",
            "root",
            "--keystone-group",
            "root",
          ]);
        await once("keystone-manage", "keystone-manage", [
          ...ksConf,
          "bootstrap",
          "--bootstrap-password",
          password,
          "--bootstrap-admin-url",
          authUrl,
          "--bootstrap-public-url",
          authUrl,
          "--bootstrap-internal-url",
          authUrl,
          "--bootstrap-region-id",
          region,
        ]);
        uwsgi("keystone", ports.keystone, "/usr/bin/keystone-wsgi-public", {
          OS_KEYSTONE_CONFIG_FILES: join(ks, "keystone.conf"),
        });
      })(),
      once("placement-manage", "placement-manage", ["--config-file", join(pl, "placement.conf"), "db", "sync"]),
      once("glance-manage", "glance-manage", ["--config-file", join(gl, "glance-api.conf"), "db_sync"]),
      (async () => {
        await novaManage("api_db", "sync");
        await novaManage("cell_v2", "map_cell0", "--database_connection", db("nova_cell0"));
        await novaManage("cell_v2", "create_cell", "--name", "cell1");
        await novaManage("db", "sync");
      })(),
      waitFor("rabbitmq", () => portOpen(ports.amqp)),
      (async () => {
        await waitFor("libvirtd", async () => {
          await run("virsh", ["--connect", "qemu:///system", "version"], { timeout: 10_000 });
          return true;
        });
        before = new Set(domainsNow());
      })(),
    ]);
    await waitFor("keystone", httpAnswers(authUrl));

    // The catalog: the endpoints Nova and the clients look up.
    const token = await issueToken(authUrl, "admin", password, "admin");
    network = await startNetworkEndpoint(join(logDir, "network.log"));
    const catalog: [string, string, string][] = [
      ["nova", "compute", `${base(ports.nova)}/v2.1`],
      ["placement", "placement", base(ports.placement)],
      ["glance", "image", base(ports.glance)],
      ["neutron", "network", network.url],
    ];
    for (const [name, type, url] of catalog) {
      const svc = await keystone<{ service: { id: string } }>(authUrl, token, "POST", "/services", {
        service: { name, type, enabled: true },
      });
      for (const iface of ["public", "internal", "admin"])
        await keystone(authUrl, token, "POST", "/endpoints", {
          endpoint: { service_id: svc.service.id, interface: iface, url, region_id: region },
        });
    }

    uwsgi("placement", ports.placement, "/usr/bin/placement-api", { OS_PLACEMENT_CONFIG_DIR: pl });
    start("glance-api", "glance-api", ["--config-file", join(gl, "glance-api.conf")]);
    start("nova-api", "nova-api", novaConf);
    start("nova-conductor", "nova-conductor", novaConf);
    const supervise = join(HERE, "supervise.sh");
    const schedulerPid = join(dir, "run", "nova-scheduler.pid");
    start("nova-scheduler", supervise, [schedulerPid, "nova-scheduler", "--config-file", schedulerConf]);
    await Promise.all([
      waitFor("placement", httpAnswers(base(ports.placement))),
      waitFor("glance-api", httpAnswers(base(ports.glance))),
      waitFor("nova-api", httpAnswers(base(ports.nova))),
    ]);
    const computePid = join(dir, "run", "nova-compute.pid");
    start("nova-compute", supervise, [computePid, "nova-compute", "--config-file", computeConf]);

    const cloud: OpenStackCloud = {
      dir,
      logDir,
      region,
      authUrl,
      user: "admin",
      password,
      project: "admin",
      computeUrl: `${base(ports.nova)}/v2.1`,
      placementUrl: base(ports.placement),
      imageUrl: base(ports.glance),
      network,
      computeHost: opts.computeHost,
      computeConf,
      computeRestart: `${join(HERE, "restart-service.sh")} ${computePid}`,
      schedulerConf,
      schedulerRestart: `${join(HERE, "restart-service.sh")} ${schedulerPid}`,
      sql,
      novaManage,
      stop: (keepLogs) => stopAll(keepLogs),
    };
    return cloud;
  } catch (e) {
    await stopAll(true);
    throw e;
  }
}

function tryKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export async function issueToken(authUrl: string, user: string, password: string, project: string): Promise<string> {
  const res = await fetch(`${authUrl}/auth/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      auth: {
        identity: { methods: ["password"], password: { user: { name: user, domain: { name: "Default" }, password } } },
        scope: { project: { name: project, domain: { name: "Default" } } },
      },
    }),
  });
  if (res.status !== 201) throw new Error(`Keystone refused the token: ${res.status} ${await res.text()}`);
  return res.headers.get("x-subject-token")!;
}

async function keystone<T>(authUrl: string, token: string, method: string, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${authUrl}${path}`, {
    method,
    headers: { "X-Auth-Token": token, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`Keystone ${method} ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}
