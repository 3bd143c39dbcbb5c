/**
 * lib/desired/cloud-init.ts and guest-setup.ts: the user data of the dev stack's flavors, read back as YAML and checked
 * against cloud-init's own JSON schema (Debian 12's cloud-init, the guest image's); the setup
 * script linted (bash -n, shellcheck) and run against Debian's real TuneD files with the package
 * manager, bootloader and service commands stubbed.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, beforeEach, describe, it } from "node:test";
import { parse } from "yaml";
import type { GuestSetup } from "../../../lib/desired/guest-setup";
import { guestFamily, guestSetup } from "../../../lib/desired/guest-setup";
import {
  cloudInitUserData,
  GUEST_PLAN_PATH,
  REBOOT_FLAG,
  SETUP_SCRIPT_PATH,
  setupCommand,
  setupScript,
  withSshHostKey,
} from "../../../lib/desired/cloud-init";
import type { StackConfig } from "../../../lib/config/schema";
import { parseStackConfig } from "../../../lib/config/schema";
import type { FlavorPlan } from "../../../lib/plan/stack";
import type { TestRoot } from "../../support/debian-root";
import { buildDebianRoot, buildRhelRoot, cachedDeb, systemPython } from "../../support/debian-root";
import { devFlavor, devRaw } from "../../support/dev-config";

const scratch = mkdtempSync(join(tmpdir(), "cloud-init-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

function devImage(patch: Partial<StackConfig["image"]> = {}): StackConfig["image"] {
  const parsed = parseStackConfig(devRaw());
  assert.ok(parsed.ok);
  return { ...parsed.config.image, ...patch };
}

const rtSmall = devFlavor("rt1.small");
const pinMedium = devFlavor("pin1.medium");
const debianSetup = guestSetup(rtSmall, devImage(), "debian") as Extract<GuestSetup, { kind: "rt" }>;

interface CloudConfig {
  write_files: { path: string; permissions: string; content: string }[];
  runcmd?: string[][];
  power_state?: { mode: string; message: string; condition: string[] };
}

function userData(flavor: FlavorPlan, setup: GuestSetup): { text: string; doc: CloudConfig } {
  const text = cloudInitUserData(flavor, setup);
  return { text, doc: parse(text) as CloudConfig };
}

/** cloud-init 22.4's JSON schema for #cloud-config, from Debian's cloud-init package. */
const cloudConfigSchema = (() => {
  let path: string | undefined;
  return () => {
    if (path) return path;
    const dir = mkdtempSync(join(scratch, "cloud-init-deb-"));
    execFileSync("dpkg-deb", ["-x", cachedDeb("cloud-init"), dir]);
    path = join(dir, "usr/lib/python3/dist-packages/cloudinit/config/schemas/schema-cloud-config-v1.json");
    return path;
  };
})();

function schemaErrors(text: string): string[] {
  const file = join(scratch, `user-data-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  const out = systemPython(
    "import json, sys, yaml, jsonschema\n" +
      "schema = json.load(open(sys.argv[1]))\n" +
      "doc = yaml.safe_load(open(sys.argv[2]))\n" +
      "for e in jsonschema.Draft4Validator(schema).iter_errors(doc): print(list(e.path), e.message)",
    [cloudConfigSchema(), file],
  );
  return out.split("\n").filter((l) => l !== "");
}

describe("the user data of an RT flavor on a stock Debian image", () => {
  const { text, doc } = userData(rtSmall, debianSetup);

  it("is #cloud-config that cloud-init 22.4's schema accepts", () => {
    assert.ok(text.startsWith("#cloud-config\n"));
    assert.deepEqual(Object.keys(doc).sort(), ["power_state", "runcmd", "write_files"]);
    assert.deepEqual(schemaErrors(text), []);
  });

  it("the schema check can fail: a misspelt power_state mode is caught", () => {
    assert.match(schemaErrors(text.replace("mode: reboot", "mode: rebot")).join("\n"), /'rebot' is not one of/);
  });

  it("writes the flavor's guest plan: RT vCPUs 2-3 from the mask ^0-1, and the complete extra specs", () => {
    const plan = doc.write_files.find((f) => f.path === GUEST_PLAN_PATH);
    assert.ok(plan);
    assert.deepEqual(JSON.parse(plan.content), {
      flavor: "rt1.small",
      vcpus: 4,
      ramMb: 4096,
      diskGb: 20,
      extraSpecs: rtSmall.extraSpecs,
      realtimeVcpus: "2-3",
      housekeepingVcpus: "0-1",
      tunedIsolatedCores: "2-3",
      kernelArgs: ["default_hugepagesz=1G"],
      rtSetup: "cloud-init (debian)",
    });
    assert.equal(rtSmall.extraSpecs["hw:cpu_realtime_mask"], "^0-1");
  });

  it("runs the setup script once and reboots only when the script says it is done", () => {
    const script = doc.write_files.find((f) => f.path === SETUP_SCRIPT_PATH);
    assert.ok(script);
    assert.equal(script.permissions, "0755");
    assert.equal(
      script.content,
      readFileSync(join(__dirname, "..", "..", "..", "hostprep", "guest", "rt-guest-setup.sh"), "utf8"),
    );
    assert.equal(script.content, setupScript());
    assert.deepEqual(doc.runcmd, [[SETUP_SCRIPT_PATH, "debian", "2-3", "default_hugepagesz=1G"]]);
    assert.equal(doc.power_state?.mode, "reboot");
    assert.deepEqual(doc.power_state?.condition, ["test", "-f", REBOOT_FLAG]);
    assert.match(REBOOT_FLAG, /^\/run\//, "the flag must not survive the reboot");
  });

  it("is the same text every time (Nova replaces a server whose user data changes)", () => {
    assert.equal(cloudInitUserData(rtSmall, debianSetup), text);
  });
});

describe("the guest's planted SSH host key", () => {
  it("is cloud-init's ssh_keys, in a document cloud-init 22.4's schema accepts, the rest unchanged", () => {
    const dir = mkdtempSync(join(scratch, "hostkey-"));
    execFileSync("ssh-keygen", [
      "-q",
      "-t",
      "ed25519",
      "-N",
      "",
      "-C",
      "openstack-rt rt-server",
      "-f",
      join(dir, "key"),
    ]);
    const key = {
      privateKey: readFileSync(join(dir, "key"), "utf8"),
      publicKey: readFileSync(join(dir, "key.pub"), "utf8").trim(),
    };
    const plain = cloudInitUserData(rtSmall, debianSetup);
    const text = withSshHostKey(plain, key);
    assert.ok(text.startsWith("#cloud-config\n"));
    assert.deepEqual(schemaErrors(text), []);
    const doc = parse(text) as Record<string, unknown>;
    assert.deepEqual(doc.ssh_keys, { ed25519_private: key.privateKey, ed25519_public: key.publicKey });
    assert.equal(doc.ssh_deletekeys, true);
    delete doc.ssh_keys;
    delete doc.ssh_deletekeys;
    assert.deepEqual(doc, parse(plain));
    assert.equal(withSshHostKey(plain, key), text, "equal input, equal bytes");
  });
});

describe("user data without the RT setup", () => {
  it("a flavor without RT vCPUs (the seeds' pinned-only flavor) gets its guest plan only", () => {
    const setup = guestSetup(pinMedium, devImage(), "debian");
    assert.deepEqual(setup, { kind: "plan-only", reason: "no RT vCPUs" });
    const { text, doc } = userData(pinMedium, setup);
    assert.deepEqual(Object.keys(doc), ["write_files"]);
    assert.deepEqual(
      doc.write_files.map((f) => f.path),
      [GUEST_PLAN_PATH],
    );
    assert.equal((JSON.parse(doc.write_files[0].content) as { realtimeVcpus: string }).realtimeVcpus, "");
    assert.deepEqual(schemaErrors(text), []);
  });

  it("a prebuilt RT image gets the guest plan only, even for an RT flavor", () => {
    const setup = guestSetup(rtSmall, devImage({ prebuiltRt: true }), undefined);
    assert.deepEqual(setup, { kind: "plan-only", reason: "prebuilt RT image" });
    const { doc } = userData(rtSmall, setup);
    assert.deepEqual(Object.keys(doc), ["write_files"]);
    assert.equal((JSON.parse(doc.write_files[0].content) as { rtSetup: string }).rtSetup, "prebuilt RT image");
  });

  it("an RT flavor on a stock image needs the family", () => {
    assert.throws(() => guestSetup(rtSmall, devImage(), undefined), /needs the RT setup/);
  });
});

describe("the guest's distribution family", () => {
  const family = (patch: Partial<StackConfig["image"]>) => guestFamily(devImage(patch), ["rt1.small"]);

  it("comes from the image's os_distro property, then from its login user", () => {
    assert.deepEqual(family({}), { ok: true, family: "debian" });
    for (const distro of ["rhel", "rocky", "almalinux", "centos"]) {
      assert.deepEqual(family({ properties: { os_distro: distro } }), { ok: true, family: "rhel" }, distro);
    }
    assert.deepEqual(family({ loginUser: "cloud-user" }), { ok: true, family: "rhel" });
    // os_distro wins over the login user.
    assert.deepEqual(family({ loginUser: "cloud-user", properties: { os_distro: "debian" } }), {
      ok: true,
      family: "debian",
    });
  });

  it("refuses a distribution it cannot tell, naming the setting", () => {
    const r = family({ loginUser: "admin" });
    assert.ok(!r.ok);
    assert.equal(r.problem.path, "openstack-rt:image.loginUser");
    assert.match(
      r.problem.message,
      /got no os_distro property and loginUser "admin".*set image\.properties\.os_distro/,
    );
    const g = family({ properties: { os_distro: "gentoo" } });
    assert.ok(!g.ok);
    assert.equal(g.problem.path, "openstack-rt:image.properties.os_distro");
  });

  it("refuses Ubuntu without a prebuilt image: its realtime kernel needs Ubuntu Pro", () => {
    const r = family({ loginUser: "ubuntu" });
    assert.ok(!r.ok);
    assert.match(r.problem.message, /Ubuntu Pro.*prebuiltRt: true/);
  });
});

describe("the setup script's shell", () => {
  it("is hostprep/guest/rt-guest-setup.sh: passes bash -n and shellcheck", () => {
    const file = join(__dirname, "..", "..", "..", "hostprep", "guest", "rt-guest-setup.sh");
    const n = spawnSync("bash", ["-n", file], { encoding: "utf8" });
    assert.equal(n.status, 0, n.stderr);
    const sc = spawnSync("shellcheck", ["--shell=bash", "--severity=style", file], { encoding: "utf8" });
    assert.equal(sc.status, 0, sc.stdout);
  });

  it("refuses values that are not a CPU list or kernel arguments, in the plan and in the script", () => {
    assert.throws(() => setupCommand({ ...debianSetup, isolatedCores: "2-3; reboot" }), /not a CPU list/);
    assert.throws(() => setupCommand({ ...debianSetup, kernelArgs: ["a b'c"] }), /not a kernel argument/);
    const file = join(__dirname, "..", "..", "..", "hostprep", "guest", "rt-guest-setup.sh");
    for (const args of [["debian", "2-3; reboot"], ["debian", "2-3", "a b'c"], ["debian"]]) {
      const r = spawnSync(file, args, {
        encoding: "utf8",
        env: { PATH: "/usr/bin:/bin", OPENSTACK_RT_GUEST_ROOT: scratch },
      });
      assert.equal(r.status, 1, `${args.join(" ")}: ${r.stderr}`);
      assert.match(
        r.stderr,
        /openstack-rt-guest-setup: error: (isolated cores .* is not a CPU list|.* is not a kernel argument|usage: )/,
      );
    }
  });
});

/**
 * Stubs for the commands that change a live system: each logs its arguments, a few answer, and
 * `fail` names one that exits 3.
 */
function stubs(fail?: string): string {
  const dir = mkdtempSync(join(scratch, "stubs-"));
  const stub = (name: string, body = "") =>
    writeFileSync(
      join(dir, name),
      `#!/bin/bash\nprintf '%s\\n' "${name} $*" >>"$STUB_LOG"\n${name === fail ? "exit 3" : body}\n`,
      { mode: 0o755 },
    );
  for (const cmd of ["apt-get", "systemctl", "tuned-adm", "subscription-manager", "grubby"]) stub(cmd);
  stub("dpkg", "echo amd64");
  stub("uname", "echo x86_64");
  // update-grub: writes the boot menu whose first entry the test chooses.
  stub(
    "update-grub",
    'mkdir -p "$OPENSTACK_RT_GUEST_ROOT/boot/grub"\nprintf "menuentry x {\\n\\tlinux\\t/boot/vmlinuz-%s root=UUID=1 ro\\n}\\n" "$FIRST_KERNEL" >"$OPENSTACK_RT_GUEST_ROOT/boot/grub/grub.cfg"',
  );
  stub(
    "dnf",
    'if [[ "$*" == "-q repolist --all" ]]; then printf "%s\\n" "repo id  repo name  status" "baseos  BaseOS  enabled" "rt  Real Time  disabled" "nfv  NFV  disabled"; fi',
  );
  return dir;
}

describe("the setup script, run against Debian's TuneD files", () => {
  let root: TestRoot;
  const log = () => join(root.dir, "stub.log");
  const run = (setup: Extract<GuestSetup, { kind: "rt" }>, env: Record<string, string> = {}, stubDir = stubs()) => {
    const file = join(root.dir, "setup.sh");
    writeFileSync(file, setupScript(), { mode: 0o755 });
    const r = spawnSync(file, setupCommand(setup).slice(1), {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: `${stubDir}:/usr/bin:/bin`,
        LC_ALL: "C",
        OPENSTACK_RT_GUEST_ROOT: root.dir,
        STUB_LOG: log(),
        ...env,
      },
    });
    const calls = existsSync(log())
      ? readFileSync(log(), "utf8")
          .split("\n")
          .filter((l) => l !== "")
          .map((l) => l.trimEnd())
      : [];
    return { ...r, calls };
  };
  /** isolated_cores as TuneD 2.20 reads the variables file (tuned.profiles.variables.Variables). */
  const tunedIsolatedCores = () =>
    systemPython(
      "import sys\nfrom tuned.profiles.variables import Variables\nv = Variables()\nv.add_from_file(sys.argv[1])\nprint(v.get_env()['TUNED_isolated_cores'])",
      [root.path("/etc/tuned/realtime-virtual-guest-variables.conf")],
    ).trim();

  afterEach(() => root.remove());

  describe("Debian", () => {
    beforeEach(() => {
      root = buildDebianRoot();
    });

    it("installs the RT kernel and TuneD, sets isolated_cores in place, adds the kernel argument, and flags the reboot", () => {
      const shipped = root.read("/etc/tuned/realtime-virtual-guest-variables.conf");
      assert.match(
        shipped,
        /^isolated_cores=\$\{f:calc_isolated_cores:1\}$/m,
        "Debian ships a default isolated_cores line",
      );
      const r = run(debianSetup, { FIRST_KERNEL: "6.1.0-28-rt-amd64" });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.calls, [
        "dpkg --print-architecture",
        "apt-get update",
        "apt-get install -y --no-install-recommends linux-image-rt-amd64",
        "apt-get install -y tuned tuna rt-tests stress-ng",
        "systemctl enable --now tuned.service",
        "tuned-adm profile realtime-virtual-guest",
        "update-grub",
      ]);
      assert.equal(tunedIsolatedCores(), "2-3");
      const vars = root.read("/etc/tuned/realtime-virtual-guest-variables.conf").split("\n");
      assert.equal(vars.filter((l) => l.startsWith("isolated_cores")).length, 1);
      assert.ok(vars.includes("isolate_managed_irq=Y"), "the package's other settings stay");
      // The snippet appends to whatever /etc/default/grub and earlier snippets set.
      const cmdline = execFileSync(
        "bash",
        [
          "-c",
          `GRUB_CMDLINE_LINUX="console=ttyS0"; . "$1"; printf %s "$GRUB_CMDLINE_LINUX"`,
          "-",
          root.path("/etc/default/grub.d/99-openstack-rt.cfg"),
        ],
        { encoding: "utf8" },
      );
      assert.equal(cmdline, "console=ttyS0 default_hugepagesz=1G");
      // TuneD's $tuned_params survives an image snippet that set GRUB_CMDLINE_LINUX_DEFAULT afresh,
      // and is not added twice where TuneD's own line in /etc/default/grub kept it.
      const linuxDefault = (before: string) =>
        execFileSync(
          "bash",
          [
            "-c",
            `${before}; . "$1"; printf %s "$GRUB_CMDLINE_LINUX_DEFAULT"`,
            "-",
            root.path("/etc/default/grub.d/99-openstack-rt.cfg"),
          ],
          { encoding: "utf8" },
        );
      assert.equal(
        linuxDefault('GRUB_CMDLINE_LINUX_DEFAULT="console=tty0 console=ttyS0,115200"'),
        "console=tty0 console=ttyS0,115200 $tuned_params",
      );
      assert.equal(linuxDefault('GRUB_CMDLINE_LINUX_DEFAULT="quiet \\$tuned_params"'), "quiet $tuned_params");
      assert.ok(root.exists(REBOOT_FLAG));
    });

    it("does not flag the reboot when GRUB would not boot the RT kernel first", () => {
      const r = run(debianSetup, { FIRST_KERNEL: "6.1.0-28-cloud-amd64" });
      assert.equal(r.status, 1);
      assert.match(r.stderr, /GRUB's first entry boots \/boot\/vmlinuz-6\.1\.0-28-cloud-amd64, not the RT kernel/);
      assert.ok(!root.exists(REBOOT_FLAG));
    });

    it("stops at the first failing command, without the reboot flag", () => {
      const r = run(debianSetup, { FIRST_KERNEL: "6.1.0-28-rt-amd64" }, stubs("tuned-adm"));
      assert.equal(r.status, 3);
      assert.equal(r.calls.at(-1), "tuned-adm profile realtime-virtual-guest");
      assert.ok(!root.exists(REBOOT_FLAG));
    });
  });

  describe("RHEL family", () => {
    const rhelSetup = { ...debianSetup, family: "rhel" as const };
    beforeEach(() => {
      root = buildRhelRoot();
      mkdirSync(root.path("/boot"), { recursive: true });
      for (const k of [
        "5.14.0-427.13.1.el9_4.x86_64",
        "5.14.0-427.13.1.el9_4.x86_64+rt",
        "5.14.0-362.8.1.el9_3.x86_64+rt",
      ]) {
        writeFileSync(root.path(`/boot/vmlinuz-${k}`), "");
      }
    });

    it("RHEL: enables the subscription's RT and NFV repositories, installs, and boots the newest kernel-rt with the argument", () => {
      const r = run(rhelSetup);
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.calls, [
        "uname -m",
        "subscription-manager repos --enable=rhel-9-for-x86_64-rt-rpms --enable=rhel-9-for-x86_64-nfv-rpms",
        "dnf -y install kernel-rt tuned-profiles-realtime tuned-profiles-nfv-guest rt-tests stress-ng",
        "systemctl enable --now tuned.service",
        "tuned-adm profile realtime-virtual-guest",
        "grubby --set-default /boot/vmlinuz-5.14.0-427.13.1.el9_4.x86_64+rt",
        "grubby --update-kernel=ALL --args=default_hugepagesz=1G",
      ]);
      assert.equal(tunedIsolatedCores(), "2-3");
      assert.ok(root.exists(REBOOT_FLAG));
    });

    it("Rocky Linux: enables its own rt and nfv repositories for the install", () => {
      root.write("/etc/os-release", 'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n');
      const r = run(rhelSetup);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(
        r.calls.includes(
          "dnf -y --enablerepo=rt --enablerepo=nfv install kernel-rt tuned-profiles-realtime tuned-profiles-nfv-guest rt-tests stress-ng",
        ),
        r.calls.join("\n"),
      );
      assert.ok(!r.calls.some((c) => c.startsWith("subscription-manager")));
    });
  });
});
