/**
 * `-` and `_` are one character in a kernel parameter's name (the kernel's parse_args compares
 * names with parameq): `default-hugepagesz=` and `nohz-full=` are refused or owned exactly like
 * their underscore forms, by the planner, the step builder and the scripts on a real root.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hostSteps } from "../../../lib/desired/host-steps";
import { kernelParamName } from "../../../lib/plan/kernel-param";
import { planStack } from "../../../lib/plan/stack";
import { buildDebianRoot, removedAfterEach, runScript, show, sourcedCmdline } from "../../support/debian-root";
import { devRaw } from "../../support/dev-config";

const track = removedAfterEach();

describe("kernel parameter names", () => {
  it("kernelParamName reads - as _ in the name only", () => {
    assert.equal(kernelParamName("default-hugepagesz=1G"), "default_hugepagesz");
    assert.equal(kernelParamName("nohz-full=4-11"), "nohz_full");
    assert.equal(kernelParamName("rcupdate.rcu-expedited"), "rcupdate.rcu_expedited");
  });

  it("the planner refuses dashed forms of the parameters it owns, and a dashed repeat", () => {
    for (const arg of ["default-hugepagesz=2M", "nohz-full=4-11", "rcu-nocbs=4-11"]) {
      const raw = devRaw();
      raw.hosts[0].extraKernelArgs = [arg];
      const r = planStack(raw);
      assert.equal(r.ok, false, arg);
      const problem = !r.ok ? r.problems.find((p) => p.path.endsWith("extraKernelArgs[0]")) : undefined;
      assert.match(
        problem?.message ?? "",
        new RegExp(`got "${arg}", but the plan sets ${kernelParamName(arg)} itself`),
      );
    }
    const raw = devRaw();
    raw.hosts[0].extraKernelArgs = ["intel_iommu=on", "intel-iommu=off"];
    const r = planStack(raw);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.problems.map((p) => p.message).join("\n") : "", /a second intel_iommu/);
  });

  it("the step builder refuses a parameter given in both spellings", () => {
    const raw = devRaw();
    const r = planStack(raw);
    assert.ok(r.ok);
    const plan = structuredClone(r.plan.hosts[0]);
    plan.kernel.args = [...plan.kernel.args, "nohz_full=4-11", "nohz-full=4-11"];
    assert.throws(
      () =>
        hostSteps(
          plan,
          r.config.hosts.find((h) => h.name === plan.name)!,
        ),
      /nohz_full appears twice/,
    );
  });

  it("parse_kernel_args refuses both spellings at once, in kernel-args.sh and reboot.sh", () => {
    const root = track(buildDebianRoot());
    for (const args of ["default_hugepagesz=1G default-hugepagesz=2M", "nohz-full=1 nohz_full=2"]) {
      for (const r of [
        runScript("kernel-args.sh", ["--os", "debian-12", "--args", args, "--root", root.dir]),
        runScript("reboot.sh", ["--args", args, "--expect-rt", "no", "--root", root.dir]),
      ]) {
        assert.equal(r.status, 2, show(r));
        assert.match(r.stderr, /names (default_hugepagesz|nohz_full) twice/);
      }
    }
  });

  it("kernel-args.sh owns the dashed spelling on the command line: it is replaced, not left beside the planned one", () => {
    const root = track(buildDebianRoot());
    const grub = "/etc/default/grub";
    root.write(
      grub,
      root
        .read(grub)
        .replace('GRUB_CMDLINE_LINUX=""', 'GRUB_CMDLINE_LINUX="quiet default-hugepagesz=2M console=ttyS0"'),
    );
    const args = "default_hugepagesz=1G hugepagesz=1G hugepages=0:4,1:4";
    const r = runScript("kernel-args.sh", ["--os", "debian-12", "--args", args, "--root", root.dir]);
    assert.equal(r.status, 0, show(r));
    assert.equal(sourcedCmdline(root), `quiet console=ttyS0 ${args}`);
  });
});
