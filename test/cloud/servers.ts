/**
 * Starts the test cloud on 127.0.0.1: Keystone (keystone_server.py) and Nova's API with two
 * fake-libvirt computes (nova_cloud.py), in parallel, each with Debian's /usr/bin/python3. The
 * ports are chosen here, so both know each other from the start: Keystone's catalog lists Nova,
 * and Nova's auth_token validates against Keystone.
 */
import type { ChildProcess } from "node:child_process";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const PYTHON = "/usr/bin/python3";
const HERE = __dirname;

export interface TestCloud {
  authUrl: string;
  password: string;
  computeUrl: string;
  imageId: string;
  computes: string[];
  stop: () => void;
}

/** The NUMA host both computes report: the dev stack's host (2 nodes of 6 CPUs, 4 x 1 GiB pages each). */
export const HOST = {
  cpu_dedicated_set: "4-11",
  cells: [
    { id: 0, cpus: [0, 2, 4, 6, 8, 10], memory_mb: 16384, hugepages_1g: 4 },
    { id: 1, cpus: [1, 3, 5, 7, 9, 11], memory_mb: 16384, hugepages_1g: 4 },
  ],
};

/** Why the cloud cannot start here (a missing Debian package), or null. */
export function missingPackages(): string | null {
  const r = spawnSync(
    PYTHON,
    ["-c", "import nova.tests.functional.libvirt.base, placement, wsgi_intercept, keystone"],
    {
      encoding: "utf8",
    },
  );
  if (r.status === 0) return null;
  return (
    `${PYTHON} cannot import Nova's functional tests and Keystone (${(r.stderr || String(r.error)).trim().split("\n").at(-1)}); ` +
    "install the Debian packages: apt-get install -y --no-install-recommends python3-nova python3-placement python3-wsgi-intercept python3-oslotest python3-keystone"
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The first JSON line the child prints, within `timeoutMs`; its stderr tail on failure. */
function readyLine(child: ChildProcess, what: string, timeoutMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(
      () => reject(new Error(`${what} was not ready within ${timeoutMs / 1000} s:\n${err.slice(-3000)}`)),
      timeoutMs,
    );
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => l.startsWith("{"));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as Record<string, unknown>);
      }
    });
    child.stderr!.on("data", (d: Buffer) => {
      err = (err + d.toString()).slice(-20000);
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before it was ready:\n${err.slice(-3000)}`));
    });
  });
}

export async function startTestCloud(): Promise<TestCloud> {
  const work = mkdtempSync(join(tmpdir(), "rt-cloud-"));
  mkdirSync(join(work, "keystone"));
  mkdirSync(join(work, "nova"));
  const [keystonePort, novaPort] = [await freePort(), await freePort()];
  const password = randomBytes(16).toString("hex");
  const authUrl = `http://127.0.0.1:${keystonePort}/v3`;
  const computeUrl = `http://127.0.0.1:${novaPort}/v2.1`;
  const env = { ...process.env, KEYSTONE_PASSWORD: password, KEYSTONE_URL: authUrl };
  const keystone = spawn(
    PYTHON,
    [join(HERE, "keystone_server.py"), join(work, "keystone"), String(keystonePort), computeUrl],
    {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const nova = spawn(PYTHON, [join(HERE, "nova_cloud.py")], { env, cwd: HERE, stdio: ["pipe", "pipe", "pipe"] });
  // CLOUD_TEST_LOGS=<dir>: keep both services' stderr there, for debugging.
  if (process.env.CLOUD_TEST_LOGS) {
    mkdirSync(process.env.CLOUD_TEST_LOGS, { recursive: true });
    keystone.stderr.pipe(createWriteStream(join(process.env.CLOUD_TEST_LOGS, "keystone.log")));
    nova.stderr.pipe(createWriteStream(join(process.env.CLOUD_TEST_LOGS, "nova.log")));
  }
  nova.stdin.write(`${JSON.stringify({ work: join(work, "nova"), port: novaPort, host: HOST })}\n`);
  const stop = () => {
    nova.stdin.end();
    nova.kill("SIGTERM");
    keystone.kill("SIGTERM");
    rmSync(work, { recursive: true, force: true });
  };
  try {
    const [, novaReady] = await Promise.all([
      readyLine(keystone, "Keystone", 240_000),
      readyLine(nova, "Nova", 240_000),
    ]);
    return {
      authUrl,
      password,
      computeUrl,
      imageId: String(novaReady.image_id),
      computes: novaReady.computes as string[],
      stop,
    };
  } catch (e) {
    stop();
    throw e;
  }
}
