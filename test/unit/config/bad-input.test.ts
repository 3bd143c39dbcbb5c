/**
 * The bad-input suite: stack configs that are hostile, mistyped or malformed, one case per
 * class. Each must end in `npm run plan` exiting 1 with the setting named and no stack trace;
 * the classes the program can see (everything but the YAML file itself) must also stop the
 * program, loaded under the SDK's mocks as test/unit/components/program-refusals.test.ts loads it, with one
 * RunError naming the setting and nothing registered.
 *
 * The stack files are the dev stack's with one change each, written to a scratch directory.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { parse, stringify } from "yaml";
import { CONFIG_LIMITS, CONFIG_NAMESPACE, DURATION_LIMITS } from "../../../lib/config/schema";
import { code } from "../../../lib/render/plan-markdown";
import { PULUMI_CONFIG_MAX_BYTES, readStackConfig } from "../../../lib/config/stack-files";
import { HOST_FACTS_TIMEOUT_SECONDS, stageTimeoutMs } from "../../../lib/checks/verification";
import { PROJECT_DIR } from "../../support/dev-config";
import { onRegister } from "../../support/mock-monitor";
import { setProgramMocks } from "../../support/mocks";

const DEV_FILE = join(PROJECT_DIR, "Pulumi.dev.yaml");
const DEV_TEXT = readFileSync(DEV_FILE, "utf8");
type Doc = { config: Record<string, unknown> };
type Host = {
  name: string;
  ssh: Record<string, unknown>;
  topology: { nodes: Record<string, unknown>[] };
  [k: string]: unknown;
};

const dir = mkdtempSync(join(tmpdir(), "bad-input-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The dev stack file's config, to change. */
function devDoc(): Doc & { config: { "openstack-rt:hosts": Host[]; [k: string]: unknown } } {
  return parse(DEV_TEXT) as ReturnType<typeof devDoc>;
}

let files = 0;
function write(content: string | Buffer): string {
  const file = join(dir, `Pulumi.case${files++}.yaml`);
  writeFileSync(file, content);
  return file;
}
const writeDoc = (doc: unknown) => write(stringify(doc, { aliasDuplicateObjects: false }));

const PLAN = join(PROJECT_DIR, "cli", "plan.ts");

/** `npm run plan -- --config <file> [args]`, without blocking the other cases. */
function plan(file: string, ...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // node with tsx's loader, not the tsx binary: one process instead of two, half the start-up.
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, ["--import", "tsx", PLAN, "--config", file, ...args], {
      cwd: PROJECT_DIR,
      env,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

const STACK_TRACE = /^\s+at .+(:\d+:\d+\)?|\(native\))$|\b(TypeError|RangeError|ReferenceError|SyntaxError)\b/m;

/** Exit 1, the setting named in the text, the JSON and the Markdown output, no stack trace. */
async function refusedByPlan(file: string, setting: string | RegExp, message?: RegExp): Promise<string> {
  const [textRun, jsonRun, mdRun] = await Promise.all([plan(file), plan(file, "--json"), plan(file, "--markdown")]);
  for (const r of [textRun, jsonRun, mdRun]) {
    assert.equal(r.status, 1, `exit 1: ${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stdout + r.stderr, STACK_TRACE, "no stack trace");
  }
  const named = (s: string) => (typeof setting === "string" ? s.includes(setting) : setting.test(s));
  assert.ok(named(textRun.stderr), `the text names ${String(setting)}:\n${textRun.stderr}`);
  if (message) assert.match(textRun.stderr, message);
  const doc = JSON.parse(jsonRun.stdout) as { valid: boolean; problems: { path: string; message: string }[] };
  assert.equal(doc.valid, false);
  assert.ok(
    doc.problems.some((p) => named(`${p.path}: ${p.message}`)),
    `the JSON names ${String(setting)}`,
  );
  assert.match(mdRun.stdout, /\*\*The config does not plan\*\*/);
  assertNoRawHtml(mdRun.stdout);
  return textRun.stderr;
}

// ---------------------------------------------------------------------------------------------
// The program under mocks.

const load = createRequire(__filename);
const PROGRAM = load.resolve("../../../index");

/** Loads index.ts with these config keys (full `<namespace>:<key>` names, JSON text values). */
async function loadProgram(
  config: Record<string, string>,
  secretKeys: string[] = [],
): Promise<{ error: unknown; registered: string[]; warnings: string[] }> {
  const registered: string[] = [];
  await setProgramMocks({ preview: true });
  onRegister((req) => {
    registered.push(`${req.getType()} ${req.getName()}`);
  });
  pulumi.runtime.setAllConfig(config, secretKeys);
  const warnings: string[] = [];
  const warn = pulumi.log.warn;
  pulumi.log.warn = (msg: string) => {
    warnings.push(msg);
    return Promise.resolve();
  };
  delete load.cache[PROGRAM];
  let error: unknown;
  try {
    load(PROGRAM);
  } catch (e) {
    error = e;
  } finally {
    pulumi.log.warn = warn;
  }
  await pulumi.runtime.disconnect();
  return { error, registered, warnings };
}

/** The dev stack's config as the CLI hands it to the program: Pulumi.yaml's defaults, then the stack file's keys. */
function programConfig(doc: Doc): Record<string, string> {
  const project = parse(readFileSync(join(PROJECT_DIR, "Pulumi.yaml"), "utf8")) as {
    config: Record<string, { default?: unknown }>;
  };
  const out: Record<string, string> = {};
  for (const [k, decl] of Object.entries(project.config))
    if ("default" in decl) out[`${CONFIG_NAMESPACE}:${k}`] = JSON.stringify(decl.default);
  for (const [k, v] of Object.entries(doc.config)) out[k] = typeof v === "string" ? v : JSON.stringify(v);
  return out;
}

async function refusedByProgram(
  config: Record<string, string>,
  setting: string | RegExp,
  secretKeys: string[] = [],
): Promise<string> {
  const { error, registered } = await loadProgram(config, secretKeys);
  assert.ok(pulumi.RunError.isInstance(error), `a RunError, got ${String(error)}`);
  assert.deepEqual(registered, [], "nothing registered");
  assert.ok(
    typeof setting === "string" ? error.message.includes(setting) : setting.test(error.message),
    `the RunError names ${String(setting)}:\n${error.message}`,
  );
  return error.message;
}

/** One class of bad input: the same change, refused by the plan and by the program. */
async function refusedByBoth(
  edit: (doc: ReturnType<typeof devDoc>) => void,
  setting: string | RegExp,
  message?: RegExp,
): Promise<void> {
  const doc = devDoc();
  edit(doc);
  const [fromPlan, fromProgram] = [
    await refusedByPlan(writeDoc(doc), setting, message),
    await refusedByProgram(programConfig(doc), setting),
  ];
  if (message) assert.match(fromProgram, message);
  assert.ok(fromPlan.length > 0);
}

// ---------------------------------------------------------------------------------------------
// Markdown: every user value stays inside its code span or is escaped.

/** The text of a Markdown line outside its code spans (CommonMark: a run of n backticks closes at the next run of exactly n). */
function outsideCodeSpans(line: string): string {
  let out = "";
  let i = 0;
  while (i < line.length) {
    if (line[i] === "`" && line[i - 1] !== "\\") {
      const run = /^`+/.exec(line.slice(i))![0];
      const close = new RegExp(`(?<!\`)${run}(?!\`)`, "g");
      close.lastIndex = i + run.length;
      const m = close.exec(line);
      if (m) {
        i = m.index + run.length;
        out += " ";
        continue;
      }
    }
    out += line[i];
    i += 1;
  }
  return out;
}

/** Outside code spans, only the comment's own HTML (<details>, <summary>, <br>) and only escaped '<'. */
function assertNoRawHtml(md: string): void {
  for (const line of md.split("\n")) {
    const outside = outsideCodeSpans(line).replace(/<\/?(details|summary)>|<br>/g, "");
    assert.doesNotMatch(outside, /(?<!\\)</, `raw HTML outside a code span in: ${line}`);
  }
  const outside = md.split("\n").map(outsideCodeSpans).join("\n");
  assert.equal(
    (outside.match(/<details>/g) ?? []).length,
    (outside.match(/<\/details>/g) ?? []).length,
    "as many </details> as <details>",
  );
}

const HOSTILE = [
  "x``<img src=x onerror=alert(1)>``",
  "</details><img src=https://example.org/p.png>",
  "a`b``c```d",
  "`",
  "a\\|b</details>",
  "line\rbreak\n# heading",
  "tab\there\u2028sep\u0000nul",
];

describe("code(): a value cannot leave its code span", () => {
  for (const value of HOSTILE) {
    it(JSON.stringify(value), () => {
      const span = code(value);
      assert.ok(![..."\r\n\u2028\u0000"].some((c) => span.includes(c)), "one line, no control character");
      // What the span holds once CommonMark strips the fence and one padding space on each side.
      const run = /^`+/.exec(span)![0];
      assert.ok(span.endsWith(run), "closes with the fence it opens with");
      let inner = span.slice(run.length, span.length - run.length);
      if (inner.startsWith(" ") && inner.endsWith(" ") && inner.trim() !== "") inner = inner.slice(1, -1);
      assert.ok(
        !new RegExp(`(?<!\`)${run}(?!\`)`).test(inner),
        "no run of the fence's length inside: nothing closes it early",
      );
      assert.equal(outsideCodeSpans(`| ${span} |`), "|   |");
      assert.equal(
        inner.replace(/\\\|/g, "|").replace(/\\u0000|\\u0009/g, "?"),
        value
          .replace(/\r\n|[\r\n\u2028]/g, " ")
          .replaceAll("\u0000", "?")
          .replaceAll("\t", "?"),
      );
    });
  }
});

// ---------------------------------------------------------------------------------------------

describe(
  "bad input: npm run plan exits 1 naming the setting; the program stops before registering anything",
  { concurrency: 2 },
  () => {
    it("an IPv4 address with a part over 255, or a leading zero (read as octal by the resolver)", async () => {
      await refusedByBoth(
        (d) => (d.config["openstack-rt:hosts"][0].ssh.host = "192.0.2.256"),
        "openstack-rt:hosts[0].ssh.host",
        /got "192\.0\.2\.256"; must be an IPv4 address \(four parts 0-255/,
      );
      await refusedByBoth(
        (d) => (d.config["openstack-rt:hosts"][1].ssh.host = "010.0.0.1"),
        "openstack-rt:hosts[1].ssh.host",
      );
    });

    it("an IPv6 address of colons only, and other malformed IPv6", async () => {
      await refusedByBoth(
        (d) => ((d.config["openstack-rt:controller"] as { ssh: Record<string, unknown> }).ssh.host = ":::::"),
        "openstack-rt:controller.ssh.host",
        /must be an IPv6 address/,
      );
      await refusedByBoth(
        (d) => (d.config["openstack-rt:hosts"][0].ssh.host = "2001:db8::1::2"),
        "openstack-rt:hosts[0].ssh.host",
      );
    });

    it("CIDRs with a part over 255 or malformed IPv6", async () => {
      await refusedByBoth((d) => {
        (d.config["openstack-rt:securityGroup"] as Record<string, unknown>).sshCidr = "198.51.100.300/24";
        (d.config["openstack-rt:securityGroup"] as Record<string, unknown>).icmpCidr = ":::/64";
      }, /openstack-rt:securityGroup\.sshCidr: .*\n.*openstack-rt:securityGroup\.icmpCidr: |openstack-rt:securityGroup\.icmpCidr/);
    });

    it("SSH from 0.0.0.0/1 is SSH from anywhere: refused without allowSshFromAnywhere", async () => {
      await refusedByBoth(
        (d) => ((d.config["openstack-rt:securityGroup"] as Record<string, unknown>).sshCidr = "0.0.0.0/1"),
        "openstack-rt:securityGroup.sshCidr",
        /opens SSH to the whole internet/,
      );
    });

    it("an image URL with CR/LF, a space, a control character, or another scheme", async () => {
      const image = (d: ReturnType<typeof devDoc>) => d.config["openstack-rt:image"] as Record<string, unknown>;
      await refusedByBoth(
        (d) => (image(d).url = "https://cloud.example.org/debian.qcow2\r\nX-Injected: 1"),
        "openstack-rt:image.url",
        /holds "\\r" at position 38; .*percent-encode/,
      );
      await refusedByBoth(
        (d) => (image(d).url = "https://cloud.example.org/my image.qcow2"),
        "openstack-rt:image.url",
        /holds " "/,
      );
      await refusedByBoth((d) => (image(d).url = "https://cloud.example.org/\u0000.qcow2"), "openstack-rt:image.url");
      await refusedByBoth(
        (d) => (image(d).url = "file:///etc/shadow"),
        "openstack-rt:image.url",
        /must be an http:\/\/ or https:\/\/ URL/,
      );
    });

    it("durations longer than the scripts and Node's timers take", async () => {
      await refusedByBoth(
        (d) =>
          (d.config["openstack-rt:latency"] = {
            host: { oslat: { durationSeconds: 1_000_000 } },
            guest: { cyclictest: { durationSeconds: 3_000_000 } },
          }),
        "openstack-rt:latency.host.oslat.durationSeconds",
        /openstack-rt:latency\.host\.oslat\.durationSeconds: got 1000000; must be at most 999999 s \(11\.5 days\), what guest-latency\.sh takes[^]*openstack-rt:latency\.guest\.cyclictest\.durationSeconds: got 3000000; must be at most 999999 s/,
      );
      await refusedByBoth(
        (d) => (d.config["openstack-rt:deployment"] = { rebootTimeoutSeconds: 2 ** 31 }),
        "openstack-rt:deployment.rebootTimeoutSeconds",
        /must be at most 7200 s/,
      );
    });

    it("a namespace typo: opensatck-rt:deployment is an error suggesting openstack-rt:deployment", async () => {
      await refusedByBoth(
        (d) => (d.config["opensatck-rt:deployment"] = { rollingReboots: true }),
        "opensatck-rt:deployment",
        /unknown namespace "opensatck-rt"; did you mean "openstack-rt:deployment"\?/,
      );
    });

    it("an unknown key in the project's namespace", async () => {
      await refusedByBoth(
        (d) => (d.config["openstack-rt:deploymnet"] = { rollingReboots: true }),
        "openstack-rt",
        /unknown setting "deploymnet" \(did you mean "deployment"\?\); allowed here: .*deployment/,
      );
    });

    it("a node whose CPUs are all housekeeping gets no 1 GiB pages", async () => {
      await refusedByBoth(
        (d) => {
          const h = d.config["openstack-rt:hosts"][0];
          h.topology = {
            nodes: [
              { id: 0, cpus: "0-5", memoryMb: 16384 },
              { id: 1, cpus: "6-7", memoryMb: 16384 },
            ],
          };
          h.housekeepingCpusPerNode = 2;
          h.hugepages1gPerNode = 4;
        },
        "openstack-rt:hosts[0].hugepages1gPerNode",
        /NUMA node 1, whose CPUs \(6-7\) are all housekeeping: .*hugepages1gPerNode: \[4, 0\]/,
      );
    });

    it("a huge string: named, and shown cut short", async () => {
      const doc = devDoc();
      doc.config["openstack-rt:hosts"][0].name = "a".repeat(60_000);
      const text = await refusedByPlan(writeDoc(doc), "openstack-rt:hosts[0].name");
      assert.ok(text.length < 2000, "the value is not printed whole");
      const message = await refusedByProgram(programConfig(doc), "openstack-rt:hosts[0].name");
      assert.ok(message.length < 2000);
    });

    it("a stack whose config is bigger than Pulumi can hand the program (PULUMI_CONFIG, 128 KiB on Linux)", async () => {
      const doc = devDoc();
      (doc.config["openstack-rt:image"] as Record<string, unknown>).properties = {
        note: "n".repeat(PULUMI_CONFIG_MAX_BYTES),
      };
      await refusedByPlan(
        writeDoc(doc),
        /Pulumi\.case\d+\.yaml: its config is 1\d\d KiB as Pulumi hands it to the program .* The biggest: openstack-rt:image \(/,
      );
    });

    it("a stack file over 1 MiB", async () => {
      await refusedByPlan(
        write(DEV_TEXT + `# ${"x".repeat(1 << 20)}\n`),
        /Pulumi\.case\d+\.yaml: is 1\d\d\d KiB, more than a stack file may hold/,
      );
    });

    it("a 107 KB CPU list of repeated 0-8191 ranges: refused by its length, never expanded", async () => {
      const list = Array(15_300).fill("0-8191").join(",");
      await refusedByBoth(
        (d) => (d.config["openstack-rt:hosts"][0].topology.nodes[0].cpus = list),
        "openstack-rt:hosts[0].topology.nodes[0].cpus",
        /is longer than any list of CPUs 0-8191 needs \(20480 characters at most\)/,
      );
    });

    it("counts beyond any machine or Nova's limits, and maps of thousands of entries", async () => {
      await refusedByBoth(
        (d) => (d.config["openstack-rt:hosts"][0].hugepages1gPerNode = 1e15),
        "openstack-rt:hosts[0].hugepages1gPerNode",
        /got 1000000000000000; /,
      );
      await refusedByBoth(
        (d) => ((d.config["openstack-rt:flavors"] as Record<string, unknown>[])[0].ramMb = 2 ** 31),
        "openstack-rt:flavors[0].ramMb: got 2147483648",
      );
      await refusedByBoth(
        (d) =>
          ((d.config["openstack-rt:flavors"] as Record<string, unknown>[])[0].extraSpecs = Object.fromEntries(
            Array.from({ length: 5000 }, (_, i) => [`custom:k${i}`, "v"]),
          )),
        "openstack-rt:flavors[0].extraSpecs",
        /has more than 128 entries/,
      );
    });

    it("user data over Nova's 65535 bytes (base64): a plan error naming the server, the flavor and the size", async () => {
      await refusedByBoth(
        (d) => {
          const flavors = d.config["openstack-rt:flavors"] as Record<string, unknown>[];
          const servers = d.config["openstack-rt:servers"] as Record<string, unknown>[];
          flavors[0].extraSpecs = Object.fromEntries(
            Array.from({ length: 120 }, (_, i) => [
              `custom:${String(i).padStart(3, "0")}${"k".repeat(240)}`,
              "v".repeat(255),
            ]),
          );
          servers[0].flavor = flavors[0].name;
        },
        "openstack-rt:servers[0]",
        /server "[^"]+" of flavor "[^"]+" would get \d{5,} bytes of user data \(base64\), more than the 65535 Nova takes/,
      );
    });

    it("an RSA host key pin: refused with the fix (the step commands can only offer ssh-rsa, which OpenSSH refuses)", async () => {
      const rsa =
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7vbqajDhA6Wl4kN0vXg0vJ1QzWbW9ZLkNQ2U8xXh3mYk2rA7Jf4yq0p2sC1mN5bL8vT3dF6gH9jK0lP2oQ4rS5tU7vW8xY9zA0bC1dE2fG3hI4jK5lM6nO7pQ8rS9tU0vW1xY2zA3bC4dE5fG6hI7jK8lM9nO0pQ1rS2tU3vW4xY5zA6bC7dE8fG9hI0jK1lM2nO3pQ4rS5tU6vW7xY8zA9bC0dE1fG2hI3jK4lM5nO6pQ7rS8tU9vW0xY1zA2bC3dE4fG5hI6jK7lM8nO9pQ0rS1tU2vW3xY4zA5bC6dE7fG8hI9jK0lM1nO2pQ3rS4tU5vW6xY7zA8bC9dE0fG1hI2jK3lM4nO5pQ6rS7tU8vW9xY0zA1bC2dE3fG4hI5jK6lM7nO8pQ9r root@host";
      await refusedByBoth(
        (d) => (d.config["openstack-rt:hosts"][0].ssh.hostKey = rsa),
        "openstack-rt:hosts[0].ssh.hostKey",
        /is an RSA key, .* pin the host's ed25519 or ECDSA key instead \(`npm run discover/,
      );
      await refusedByBoth(
        (d) => (d.config["openstack-rt:hosts"][1].ssh.proxy = { host: "192.0.2.10", hostKey: rsa }),
        "openstack-rt:hosts[1].ssh.proxy.hostKey",
        /is an RSA key/,
      );
    });

    it("clear-text OpenStack secrets (password, token, application credential secret): refused, never quoted", async () => {
      for (const key of ["openstack:password", "openstack:token", "openstack:applicationCredentialSecret"]) {
        const doc = devDoc();
        doc.config[key] = "hunter2-not-a-real-secret";
        const text = await refusedByPlan(writeDoc(doc), `${key}: is in clear text in`);
        assert.doesNotMatch(text, /hunter2/);
        const message = await refusedByProgram(programConfig(doc), `${key}: is in clear text in the stack's config`);
        assert.doesNotMatch(message, /hunter2/);
        const secret = await loadProgram(programConfig(doc), [key]);
        assert.equal(secret.error, undefined, String(secret.error));
      }
    });

    it("a clear-text sshPrivateKey: the plan and the program refuse it, and the program takes it as a secret", async () => {
      const doc = devDoc();
      doc.config["openstack-rt:sshPrivateKey"] = "-----BEGIN OPENSSH PRIVATE KEY----- not-a-real-key";
      const text = await refusedByPlan(writeDoc(doc), "openstack-rt:sshPrivateKey: is in clear text");
      assert.doesNotMatch(text, /not-a-real-key/);
      const message = await refusedByProgram(
        programConfig(doc),
        "openstack-rt:sshPrivateKey: is in clear text in the stack's config",
      );
      assert.doesNotMatch(message, /not-a-real-key/);
      const secret = await loadProgram(programConfig(doc), ["openstack-rt:sshPrivateKey"]);
      assert.equal(secret.error, undefined, String(secret.error));
    });
  },
);

describe("bad input only the plan can see: the stack file itself", { concurrency: 2 }, () => {
  it("a misspelled top-level key (confg:): one problem naming it, not knock-on 'required' errors", async () => {
    const text = await refusedByPlan(
      write(DEV_TEXT.replace(/^config:/m, "confg:")),
      /has the top-level key "confg:", which a stack file does not have; did you mean "config:"\?/,
    );
    assert.match(text, /^1 problem in the stack config:/);
  });

  it("a list, a scalar, and a config: that is a list", async () => {
    for (const [content, what] of [
      ["- openstack-rt:hosts: []\n", /is a list, not a stack file/],
      ["just text\n", /is a string \("just text"\), not a stack file/],
      ["config:\n  - a\n", /config: is a list; it must be a mapping/],
    ] as const) {
      const text = await refusedByPlan(write(content), what);
      assert.match(text, /^1 problem in the stack config:/);
    }
  });

  it("non-UTF-8 bytes, and a UTF-16 file", async () => {
    const latin1 = Buffer.from(DEV_TEXT.replace("provider-net", "provider-n\u00e9t"), "latin1");
    await refusedByPlan(
      write(latin1),
      /is not UTF-8 text: byte 0xe9 at line \d+ \(offset \d+\).*; save the file as UTF-8/,
    );
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(DEV_TEXT, "utf16le")]);
    await refusedByPlan(write(utf16), /is not UTF-8 text: .*\(the file is UTF-16\)/);
  });

  it("a YAML bomb (billion laughs): refused at once, before anything is expanded", async () => {
    const levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
    for (let i = 1; i < 10; i++) {
      const name = String.fromCharCode(97 + i);
      const prev = String.fromCharCode(96 + i);
      levels.push(`${name}: &${name} [${Array<string>(9).fill(`*${prev}`).join(", ")}]`);
    }
    const bomb = `config:\n  openstack-rt:bomb:\n${levels.map((l) => `    ${l}`).join("\n")}\n`;
    // The message proves the alias bound refused it: nothing was expanded to be measured.
    await refusedByPlan(write(bomb), /expands to \d+ MiB of config through its YAML aliases/);
    await refusedByPlan(
      write("config:\n  openstack-rt:hosts: &loop [*loop]\n"),
      /cannot read the stack file|expands to an endless amount/,
    );
  });

  it("40,000 keys: refused by their count in bounded time, the error short", async () => {
    const keys = Array.from({ length: 40_000 }, (_, i) => `  openstack-rt:k${i}: 1`).join("\n");
    const file = write(`${DEV_TEXT}${keys}\n`);
    // Refused by the count, before a key is validated (each unknown key once cost a did-you-mean
    // search over the schema: 137 s for this file before the bound).
    const raw = readStackConfig(PROJECT_DIR, file);
    assert.equal(raw.usable, false);
    const text = await refusedByPlan(
      file,
      /holds 400\d\d keys and list items, more than the 32768 a stack file may hold/,
    );
    assert.ok(text.length < 1000);
  });

  it("5,000 unknown keys under the limit: one problem naming ten of them, and 2,000 unknown namespaces cut to 50 lines", async () => {
    const doc = devDoc();
    for (let i = 0; i < 5000; i++) doc.config["openstack-rt:hosts"][0][`k${i}`] = 1;
    const text = await refusedByPlan(
      writeDoc(doc),
      /unknown settings "k0", .*"k9" and 4990 more; allowed here: name, ssh/,
    );
    assert.ok(text.length < 2000);
    const many = devDoc();
    for (let i = 0; i < 2000; i++) many.config[`ns${i}:k`] = 1;
    const lines = await refusedByPlan(writeDoc(many), /unknown namespace "ns0"/);
    assert.match(lines, /(^|\n)2000 problems in the stack config:\n( {2}- .*\n){50} {2}\.\.\. and 1950 more/);
  });

  it("lists nested thousands deep: refused with the depth limit, no stack overflow", async () => {
    for (const n of [40, 5000]) {
      await refusedByPlan(
        write(`${DEV_TEXT}  openstack-rt:deep: ${"[".repeat(n)}${"]".repeat(n)}\n`),
        /nests lists or mappings more deeply than a stack file may \(32 levels\)/,
      );
    }
  });

  it("a duplicated key", async () => {
    await refusedByPlan(
      write(DEV_TEXT + "  openstack-rt:servers: []\n"),
      /cannot read the stack file: Map keys must be unique: "openstack-rt:servers" appears again at line \d+/,
    );
  });

  it("--markdown: hostile values stay inside code spans, also where the plan is valid", async () => {
    const doc = devDoc();
    const flavors = doc.config["openstack-rt:flavors"] as { extraSpecs?: Record<string, string> }[];
    flavors[0].extraSpecs = { "custom:note": "x``</details><img src=https://example.org/p.png>|``" };
    const valid = await plan(writeDoc(doc), "--markdown");
    assert.equal(valid.status, 0, valid.stderr);
    assertNoRawHtml(valid.stdout);
    assert.ok(
      valid.stdout.includes("custom:note=x``</details><img src=https://example.org/p.png>\\|``"),
      "the value is shown as it is, in a code span",
    );

    flavors[0].extraSpecs = { "bad`key</details><img src=x>": "v" };
    await refusedByPlan(writeDoc(doc), /extraSpecs/);
  });
});

describe("the duration bounds are what their consumers take", () => {
  const script = (name: string) => readFileSync(join(PROJECT_DIR, "hostprep", "verify", name), "utf8");
  /** The most digits a script's argument check takes for this variable: `[[ $var =~ ^[0-9]{1,N}$ ...`. */
  const digits = (text: string, variable: string) =>
    Number(new RegExp(`\\[\\[ \\$${variable} =~ \\^\\[0-9\\]\\{1,(\\d)\\}\\$`).exec(text)?.[1]);
  const TIMER_MAX_MS = 2 ** 31 - 1;

  it("guest-latency.sh, which runs every latency stage (host and guest), and a stage's timer", () => {
    assert.equal(DURATION_LIMITS.stageSeconds, 10 ** digits(script("guest-latency.sh"), "seconds") - 1);
    assert.ok(CONFIG_LIMITS.latencyUs <= 10 ** digits(script("guest-latency.sh"), "threshold_us") - 1);
    assert.ok(stageTimeoutMs(DURATION_LIMITS.stageSeconds) <= TIMER_MAX_MS);
    assert.ok(HOST_FACTS_TIMEOUT_SECONDS * 1000 <= TIMER_MAX_MS);
    assert.ok(DURATION_LIMITS.waitSeconds * 1000 <= TIMER_MAX_MS);
  });
});

describe("valid input that must stay accepted", () => {
  it("a fleet of 120 hosts that reuse YAML anchors (YAML's own alias-count guard refused 100)", async () => {
    const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILEZ9Ak3Chw7pUqhmeFtPzChapi4MzTG0VCi8fxsKcRb";
    const TOPOLOGY =
      "{nodes: [{id: 0, cpus: '0,2,4,6,8,10', memoryMb: 16384}, {id: 1, cpus: '1,3,5,7,9,11', memoryMb: 16384}]}";
    const hosts = Array.from({ length: 120 }, (_, i) => {
      const first = i === 0;
      return [
        `    - name: compute-rt-${String(i + 1).padStart(3, "0")}`,
        `      ssh: {host: 10.0.0.${i + 1}, hostKey: ${first ? `&key ${KEY}` : "*key"}}`,
        "      os: debian-12",
        `      topology: ${first ? `&topology ${TOPOLOGY}` : "*topology"}`,
        `      <<: ${first ? "&tuning {housekeepingCpusPerNode: 2, hugepages1gPerNode: 4}" : "*tuning"}`,
      ].join("\n");
    });
    const rest = Object.entries(devDoc().config).filter(([k]) => k !== "openstack-rt:hosts");
    const file = write(
      [
        "config:",
        "  openstack-rt:hosts:",
        ...hosts,
        stringify(Object.fromEntries(rest)).trimEnd().replace(/^/gm, "  "),
        "",
      ].join("\n"),
    );
    const r = await plan(file, "--json");
    assert.equal(r.status, 0, r.stderr + r.stdout.slice(0, 2000));
    const planned = JSON.parse(r.stdout) as {
      valid: boolean;
      hosts: { nova: { cpuDedicatedSet: string } }[];
      warnings: unknown[];
    };
    assert.equal(planned.valid, true);
    assert.equal(planned.hosts.length, 120);
    assert.ok(planned.hosts.every((h) => h.nova.cpuDedicatedSet === "4-11"));
    assert.deepEqual(planned.warnings, []);
  });
});
