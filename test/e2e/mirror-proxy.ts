/**
 * The VM's only way out: an HTTP proxy on 127.0.0.1 (the guest reaches it as 10.0.2.2 through
 * qemu's user network) that forwards apt's requests to the package mirror(s) of this machine's
 * apt sources and to nothing else. It keeps the .deb files it fetched under .cache/e2e/debs
 * (pool files never change under one name), so later runs download less, and it can play a
 * mirror that lacks some packages, for the fault tests.
 */
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync, createReadStream } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, request } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { connect } from "node:net";
import { join } from "node:path";

export interface ProxyStats {
  requests: number;
  cacheHits: number;
  bytesFromMirror: number;
  /** Requests for anything but the mirrors, refused with 403: must stay empty. */
  refused: string[];
  /** Requests answered 404 because of `missing` (the injected fault). */
  faulted: string[];
}

export interface MirrorProxy {
  port: number;
  stats: ProxyStats;
  /** While set, pool files whose path matches get 404, as from a mirror that lacks them. */
  missing: RegExp | null;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set([
  "connection",
  "proxy-connection",
  "keep-alive",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);
/** The RT kernel's image package (not the metapackage linux-image-rt-amd64): what the fault runs' mirror "lost". */
export const RT_KERNEL_IMAGE_DEB = /\/linux-image-[0-9][^/]*-rt-amd64_[^/]*\.deb$/;

const POOL_DEB = /\/pool\/.+\/([A-Za-z0-9.+~%_-]+\.deb)$/;

function forwardHeaders(h: IncomingMessage["headers"]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

export async function startMirrorProxy(origins: readonly string[], cacheDir: string): Promise<MirrorProxy> {
  const allowed = new Set(origins.map((o) => o.toLowerCase()));
  mkdirSync(cacheDir, { recursive: true });
  const stats: ProxyStats = { requests: 0, cacheHits: 0, bytesFromMirror: 0, refused: [], faulted: [] };
  const sockets = new Set<Socket>();
  const proxy: MirrorProxy = { port: 0, stats, missing: null, close: () => Promise.resolve() };

  // Writes of fetched .deb files still under way: close() waits for them, so the cache is never
  // left with a half-written file and nothing writes into a directory a caller has removed.
  const pending = new Set<Promise<void>>();
  let part = 0;
  /** A .part file beside `cached`, renamed into place only when the whole body arrived. */
  const keepInCache = (cached: string) => {
    const tmp = `${cached}.${process.pid}.${++part}.part`;
    const file = createWriteStream(tmp);
    let settle: () => void = () => {};
    const done = new Promise<void>((resolve) => (settle = resolve));
    pending.add(done);
    let settled = false;
    const finish = (keep: boolean) => {
      if (settled) return;
      settled = true;
      if (keep) {
        try {
          renameSync(tmp, cached);
        } catch {
          keep = false;
        }
      }
      if (!keep) rmSync(tmp, { force: true });
      pending.delete(done);
      settle();
    };
    // A failed cache write only costs the cache: the client still gets the body.
    file.on("error", () => finish(false));
    return {
      write: (chunk: Buffer) => {
        if (!file.destroyed) file.write(chunk);
      },
      commit: () => file.end((err?: Error | null) => finish(!err)),
      discard: () => {
        file.destroy();
        finish(false);
      },
    };
  };

  const refuse = (res: ServerResponse, what: string) => {
    stats.refused.push(what);
    res.writeHead(403, { "content-type": "text/plain" }).end(`e2e proxy: ${what} is not the package mirror\n`);
  };

  const server = createServer((req, res) => {
    stats.requests++;
    // apt drops its other downloads when one fails (the injected 404): writing on then gives
    // EPIPE. The client is gone, nothing more; a download under way still completes the cache.
    req.on("error", () => {});
    res.on("error", () => {});
    let url: URL;
    try {
      url = new URL(req.url ?? "");
    } catch {
      return refuse(res, `non-proxy request ${JSON.stringify(req.url)}`);
    }
    if (url.protocol !== "http:" || !allowed.has(url.host.toLowerCase()))
      return refuse(res, `${req.method} ${url.protocol}//${url.host}`);
    if (req.method !== "GET" && req.method !== "HEAD") return refuse(res, `${req.method} ${url.href}`);
    const deb = POOL_DEB.exec(url.pathname)?.[1];
    if (deb && proxy.missing?.test(url.pathname)) {
      stats.faulted.push(url.pathname);
      res.writeHead(404, { "content-type": "text/plain" }).end("Not Found (injected by the e2e proxy)\n");
      return;
    }
    const cached = deb ? join(cacheDir, decodeURIComponent(deb)) : null;
    if (cached && req.method === "GET" && existsSync(cached)) {
      stats.cacheHits++;
      res.writeHead(200, {
        "content-type": "application/vnd.debian.binary-package",
        "content-length": statSync(cached).size,
      });
      createReadStream(cached)
        .on("error", () => res.destroy())
        .pipe(res);
      return;
    }
    const upstream = request(
      url,
      { method: req.method, headers: { ...forwardHeaders(req.headers), host: url.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, forwardHeaders(up.headers));
        const keep = cached && req.method === "GET" && up.statusCode === 200 ? keepInCache(cached) : null;
        up.on("data", (chunk: Buffer) => {
          stats.bytesFromMirror += chunk.length;
          keep?.write(chunk);
          if (!res.destroyed) res.write(chunk);
        });
        up.on("end", () => {
          keep?.commit();
          res.end();
        });
        up.on("error", () => {
          keep?.discard();
          res.destroy();
        });
      },
    );
    upstream.on("error", (e) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
      res.end(`e2e proxy: ${url.host}: ${e.message}\n`);
    });
    req.pipe(upstream);
  });

  // https mirrors: apt tunnels through CONNECT, to the same origins only.
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    stats.requests++;
    const target = (req.url ?? "").toLowerCase();
    const [host, port] = target.split(":");
    if (!(allowed.has(target) || (port === "443" && allowed.has(host)))) {
      stats.refused.push(`CONNECT ${target}`);
      client.end("HTTP/1.1 403 Forbidden\r\n\r\n");
      return;
    }
    const up = connect(Number(port), host, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      up.write(head);
      up.pipe(client).pipe(up);
    });
    up.on("error", () => client.destroy());
    client.on("error", () => up.destroy());
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  proxy.port = (server.address() as AddressInfo).port;
  proxy.close = async () => {
    await new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
    await Promise.all(pending);
  };
  return proxy;
}
