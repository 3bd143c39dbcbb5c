/**
 * The harness's own pieces that need no VM: reading the mirror from apt's sources, the mirror
 * proxy (only the mirror, the .deb cache, the injected fault), the qemu command line, the
 * e2e stack's plan and steps, the nova-compute step's cut (a throwaway sshd and a scratch root)
 * and the summary's durations. Seconds, so a broken harness shows before the VM run starts.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { HOSTPREP_COPY_PATH } from "../../lib/hostprep/scripts";
import { buildDebianRoot, removedAfterEach } from "../support/debian-root";
import type { TestSshd } from "../support/sshd";
import { startSshd } from "../support/sshd";
import type { Env } from "./harness";
import { cutNovaComputeStep, planForVm, seconds } from "./harness";
import { startMirrorProxy } from "./mirror-proxy";
import type { MirrorProxy } from "./mirror-proxy";
import { mirrorSources, parseDeb822, parseOneLine } from "./sources";
import { qemuArgs } from "./vm";

const MIRROR_DEB822 = `Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://mirror.example/debian
Suites: bookworm
Components: main
`;

describe("apt sources -> the e2e mirror", () => {
  it("reads deb822 and one-line entries", () => {
    assert.deepEqual(
      parseDeb822(MIRROR_DEB822).map((e) => [e.uri, e.suites.join(",")]),
      [
        ["http://mirror.example/debian", "bookworm,bookworm-updates"],
        ["http://mirror.example/debian-security", "bookworm-security"],
      ],
    );
    assert.deepEqual(
      parseOneLine(
        "# x\ndeb [arch=amd64 signed-by=/etc/k.gpg] http://m.example:8080/debian bookworm main # c\ndeb-src http://m.example/debian bookworm main\n",
      ),
      [{ uri: "http://m.example:8080/debian", suites: ["bookworm"], components: ["main"], signedBy: "/etc/k.gpg" }],
    );
  });

  it("keeps Debian 12's entries of sources.list and sources.list.d (*.list, *.sources only) and names their origins", () => {
    const etc = mkdtempSync(join(tmpdir(), "e2e-apt-"));
    try {
      mkdirSync(join(etc, "sources.list.d"));
      writeFileSync(join(etc, "sources.list.d", "debian.sources"), MIRROR_DEB822);
      writeFileSync(join(etc, "sources.list.d", "other.list"), "deb http://other.example/repo nodistro main\n");
      writeFileSync(join(etc, "sources.list.d", "off.list.disabled"), "deb http://off.example/debian bookworm main\n");
      writeFileSync(join(etc, "sources.list"), "deb http://mirror.example:8080/debian bookworm-backports main\n");
      const m = mirrorSources(etc);
      assert.deepEqual(m.origins, ["mirror.example"]);
      assert.match(
        m.deb822,
        /^Types: deb\nURIs: http:\/\/mirror\.example\/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: \/usr\/share\/keyrings\/debian-archive-keyring\.gpg\n\n/,
      );
      assert.deepEqual(m.extraKeyrings, []);
      rmSync(join(etc, "sources.list.d", "debian.sources"));
      assert.throws(() => mirrorSources(etc), /no Debian 12 \(bookworm\) entry/);
    } finally {
      rmSync(etc, { recursive: true, force: true });
    }
  });
});

function get(port: number, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: url,
        headers: { host: url.startsWith("http") ? new URL(url).host : "127.0.0.1" },
      },
      (res: IncomingMessage) => {
        let body = "";
        res
          .setEncoding("utf8")
          .on("data", (d: string) => (body += d))
          .on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const SLOW_BODY = `${"x".repeat(10)}${"y".repeat(200_000)}`;

describe("mirror proxy", () => {
  let upstreamHits: string[] = [];
  const upstream = createServer((req, res) => {
    upstreamHits.push(req.url ?? "");
    if (req.url?.includes("/slow/")) {
      // A body in chunks, the rest well after the first: time for the client to hang up.
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.write(SLOW_BODY.slice(0, 10));
      setTimeout(() => res.end(SLOW_BODY.slice(10)), 300);
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream" }).end(`content of ${req.url}`);
  });
  let origin = "";
  let proxy: MirrorProxy;
  let cache = "";
  before(async () => {
    await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
    origin = `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    cache = mkdtempSync(join(tmpdir(), "e2e-debs-"));
    proxy = await startMirrorProxy([origin], cache);
  });
  after(async () => {
    await proxy.close();
    await new Promise<void>((r) => upstream.close(() => r()));
    rmSync(cache, { recursive: true, force: true });
  });

  it("forwards to the mirror, keeps pool .deb files and serves them again from the cache", async () => {
    upstreamHits = [];
    const deb = `http://${origin}/debian/pool/main/r/rt-tests/rt-tests_2.5-1_amd64.deb`;
    assert.deepEqual(await get(proxy.port, deb), {
      status: 200,
      body: "content of /debian/pool/main/r/rt-tests/rt-tests_2.5-1_amd64.deb",
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(readdirSync(cache), ["rt-tests_2.5-1_amd64.deb"]);
    assert.equal((await get(proxy.port, deb)).status, 200);
    assert.equal(upstreamHits.length, 1, "the second request came from the cache");
    assert.equal(proxy.stats.cacheHits, 1);
    const index = `http://${origin}/debian/dists/bookworm/InRelease`;
    await get(proxy.port, index);
    await get(proxy.port, index);
    assert.equal(upstreamHits.length, 3, "indexes are never cached");
  });

  it("survives a client that hangs up mid-download (apt after a 404), and still caches the whole file", async () => {
    const deb = `http://${origin}/debian/pool/main/s/slow/slow_1.0-1_amd64.deb`;
    const body = await new Promise<number>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port: proxy.port, path: deb, headers: { host: origin } }, (res) => {
        res.once("data", () => {
          req.destroy();
          resolve(res.statusCode ?? 0);
        });
      });
      req.on("error", (e) => (e.message.includes("socket hang up") ? undefined : reject(e)));
      req.end();
    });
    assert.equal(body, 200);
    // The upstream's body arrives over 300 ms after the client left; the proxy writes on.
    const cached = join(cache, "slow_1.0-1_amd64.deb");
    for (let i = 0; i < 50 && !readdirSync(cache).includes("slow_1.0-1_amd64.deb"); i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal(readFileSync(cached, "utf8"), SLOW_BODY);
  });

  it("refuses every other origin, and plain (non-proxy) requests", async () => {
    const r = await get(proxy.port, "http://elsewhere.example/debian/dists/bookworm/InRelease");
    assert.equal(r.status, 403);
    assert.deepEqual(proxy.stats.refused, ["GET http://elsewhere.example"]);
    assert.equal((await get(proxy.port, "/not-a-proxy-request")).status, 403);
    proxy.stats.refused.length = 0;
  });

  it("plays a mirror that lacks the packages `missing` matches", async () => {
    proxy.missing = /\/linux-image-[0-9][^/]*-rt-amd64_[^/]*\.deb$/;
    try {
      const kernel = `http://${origin}/debian/pool/main/l/linux/linux-image-6.1.0-28-rt-amd64_6.1.119-1_amd64.deb`;
      assert.equal((await get(proxy.port, kernel)).status, 404);
      const meta = `http://${origin}/debian/pool/main/l/linux-signed-amd64/linux-image-rt-amd64_6.1.119-1_amd64.deb`;
      assert.equal((await get(proxy.port, meta)).status, 200, "the metapackage is still there");
      assert.deepEqual(proxy.stats.faulted, [
        "/debian/pool/main/l/linux/linux-image-6.1.0-28-rt-amd64_6.1.119-1_amd64.deb",
      ]);
    } finally {
      proxy.missing = null;
    }
  });
});

describe("the summary's durations", () => {
  it("reads seconds below a minute, minutes and whole seconds above, and never 60 s", () => {
    assert.equal(seconds(1_540), "1.5 s");
    assert.equal(seconds(59_400), "59.4 s");
    assert.equal(seconds(59_600), "1 min 0 s");
    assert.equal(seconds(899_600), "15 min 0 s");
    assert.equal(seconds(806_000), "13 min 26 s");
  });
});

describe("the e2e VM and its plan", () => {
  it("qemu: 4 vCPUs in 2 NUMA nodes of 2560 MiB, SSH on loopback only, serial to a file", () => {
    const args = qemuArgs(
      {
        disk: "/d.raw",
        snapshot: true,
        serialLog: "/s.log",
        accel: { kind: "kvm", args: ["-accel", "kvm"], note: "" },
      },
      2222,
    ).join(" ");
    assert.match(args, /-smp 4,sockets=2,cores=2,threads=1 -m 5120M/);
    assert.match(args, /-numa node,nodeid=0,cpus=0-1,memdev=mem0 .*-numa node,nodeid=1,cpus=2-3,memdev=mem1/);
    assert.match(args, /hostfwd=tcp:127\.0\.0\.1:2222-:22/);
    assert.match(args, /-serial file:\/s\.log/);
    assert.match(args, /snapshot=on/);
  });

  it("qemu for the RT guest: the flavor's vCPUs and memory in one node, 1 GiB pages backing it only when given", () => {
    const o = {
      disk: "/d.raw",
      snapshot: true,
      serialLog: "/s.log",
      accel: { kind: "tcg" as const, args: ["-accel", "tcg", "-cpu", "max,+pdpe1gb"], note: "" },
      shape: { name: "openstack-rt-e2e-rt-server", nodes: 1, cpusPerNode: 4, memoryPerNodeMb: 4096 },
      extraArgs: ["-fw_cfg", "name=opt/openstack-rt/apt-proxy,string=http://10.0.2.2:3128"],
    };
    const args = qemuArgs(o, 2222).join(" ");
    assert.match(args, /-machine pc -accel tcg -cpu max,\+pdpe1gb -smp 4,sockets=1,cores=4,threads=1 -m 4096M/);
    assert.match(args, /memory-backend-ram,id=mem0,size=4096M -numa node,nodeid=0,cpus=0-3,memdev=mem0/);
    assert.match(args, / -fw_cfg name=opt\/openstack-rt\/apt-proxy,string=http:\/\/10\.0\.2\.2:3128$/);
    const huge = qemuArgs({ ...o, shape: { ...o.shape, hugePath: "/dev/hugepages1G" } }, 2222).join(" ");
    assert.match(huge, /memory-backend-file,id=mem0,size=4096M,mem-path=\/dev\/hugepages1G,prealloc=on/);
  });

  it("the e2e stack plans one Debian 12 host whose steps carry the VM's plan", () => {
    const {
      desired: { plan, config: host, steps },
    } = planForVm({
      host: "127.0.0.1",
      port: 2222,
      user: "root",
      hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIyuP98ngAEBPe57pnyHFSeDTEz3JQEQkk1Nfcy+XNbT",
    });
    assert.equal(plan.os, "debian-12");
    assert.equal(plan.isolated, "1,3");
    assert.deepEqual(plan.kernel.args, [
      "default_hugepagesz=1G",
      "hugepagesz=1G",
      "hugepages=0:1,1:1",
      "hugepagesz=2M",
      "hugepages=0:64,1:64",
      "processor.max_cstate=1",
      "intel_idle.max_cstate=0",
    ]);
    assert.deepEqual(plan.hugepages.extraMounts, ["2M"]);
    assert.equal(host.ssh.port, 2222);
    assert.deepEqual(
      steps.map((s) => s.id),
      ["facts", "packages", "tuned", "kernel-args", "nova-compute", "reboot"],
    );
    assert.ok(
      steps.every((s) => !s.sudo),
      "root: no sudo",
    );
  });
});

describe("the nova-compute step's cut (sshd on 127.0.0.1, a scratch root)", () => {
  const track = removedAfterEach();
  let sshd: TestSshd;
  let runDir: string;
  // The cut copies hostprep/ as the step's CopyToRemote does: into the sshd user's (this user's) home.
  const copy = join(homedir(), HOSTPREP_COPY_PATH);
  const hadCopy = existsSync(copy);
  before(async () => {
    sshd = await startSshd();
    runDir = mkdtempSync(join(tmpdir(), "e2e-cut-"));
  });
  after(async () => {
    await sshd.stop();
    rmSync(runDir, { recursive: true, force: true });
    if (!hadCopy) rmSync(copy, { recursive: true, force: true });
  });

  /** The harness's Env as far as the cut reads it: the sshd as the VM, the step under --root. */
  function envFor(rootDir: string): Env {
    return {
      host: { name: "cut-test" },
      target: {
        host: "127.0.0.1",
        port: sshd.port,
        user: sshd.user,
        hostKey: sshd.hostKeyPub.split(/\s+/).slice(0, 2).join(" "),
      },
      auth: { privateKey: sshd.userKey },
      runDir,
      steps: [
        {
          id: "nova-compute",
          sudo: false,
          script: "nova-compute.sh",
          args: ["--dedicated", "1", "--reserved-host-memory-mb", "512", "--root", rootDir],
        },
      ],
    } as unknown as Env;
  }
  const marker = "/var/lib/openstack-rt/pending/nova-compute";

  it("cuts right after nova.conf is replaced; the connection alone lets the run finish, with the run it leaves the restart pending", async () => {
    const root = track(buildDebianRoot());
    const env = envFor(root.dir);
    const alone = await cutNovaComputeStep(env, false);
    assert.match(alone.output, /^set \[compute\] cpu_dedicated_set = 1 in \/etc\/nova\/nova\.conf$/m);
    assert.doesNotMatch(alone.output, /^(changed|unchanged)$/m, "the client was cut before the step's verdict");
    assert.match(root.read("/etc/nova/nova.conf"), /^cpu_dedicated_set = 1$/m);
    assert.ok(!root.exists(marker), "the run went on past the cut and did its (skipped under --root) restart");

    root.write("/etc/nova/nova.conf", root.read("/etc/nova/nova.conf").replace(/^cpu_dedicated_set.*\n/m, ""));
    const killed = await cutNovaComputeStep(env, true);
    assert.ok(killed.replacedMs > 0 && killed.endedMs > 0);
    assert.match(root.read("/etc/nova/nova.conf"), /^cpu_dedicated_set = 1$/m);
    assert.equal(root.read(marker), "systemctl\trestart\tnova-compute.service\n", "killed before its restart");
    assert.ok(!existsSync("/var/lib/openstack-rt-e2e-cut"), "the shim is gone");
  });
});
