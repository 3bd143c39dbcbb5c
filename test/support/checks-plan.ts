/**
 * Plans and expectations for the verification-check tests: the dev stack's plan (Pulumi.dev.yaml
 * through planStack), and a domain expectation built from a Nova-oracle case's input.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { DomainExpectation } from "../../lib/checks/domain-expectation";
import { expectationFromRequest, pmuOffIn } from "../../lib/checks/domain-expectation";
import { formatCpuList } from "../../lib/cpu/cpuset";
import { guestRequest } from "../../lib/plan/nova/model";
import type { FlavorPlan, StackPlan } from "../../lib/plan/stack";
import { planStack } from "../../lib/plan/stack";
import type { HostPlan } from "../../lib/plan/host";
import { readStackConfig } from "../../lib/config/stack-files";
import type { OracleCase } from "./oracle-case";
import { toNovaFlavor } from "./oracle-case";

export const PROJECT_DIR = join(__dirname, "..", "..");

export function devStackPlan(): StackPlan {
  const raw = readStackConfig(PROJECT_DIR, join(PROJECT_DIR, "Pulumi.dev.yaml"));
  assert.deepEqual(raw.problems, [], "Pulumi.dev.yaml should read cleanly");
  const result = planStack(raw.values);
  if (!result.ok) assert.fail(result.problems.map((p) => `${p.path}: ${p.message}`).join("\n"));
  return result.plan;
}

export function devHost(name = "compute-rt-01"): HostPlan {
  const host = devStackPlan().hosts.find((h) => h.name === name);
  assert.ok(host, `dev stack has no planned host ${name}`);
  return host;
}

export function devFlavor(name: string): FlavorPlan {
  const flavor = devStackPlan().flavors.find((f) => f.name === name);
  assert.ok(flavor, `dev stack has no flavor ${name}`);
  return flavor;
}

/**
 * What the domain XML of an oracle case should show, from the case's input (flavor, image and
 * host). Only a `large`/`any` page size is taken from Nova's verdict: the host decides it.
 */
export function expectationFromCase(c: OracleCase): DomainExpectation {
  const input = c.input;
  const request = guestRequest(toNovaFlavor(input), input.image_props ?? {});
  const allCpus = input.host.cells.flatMap((cell) => cell.cpus);
  const placed = c.nova.placement?.cells ?? [];
  const expectation = expectationFromRequest(
    request,
    {
      // Without cpu_dedicated_set (legacy mode) Nova may pin to any online CPU.
      dedicatedSet: input.host.cpu_dedicated_set ?? formatCpuList([...allCpus].sort((a, b) => a - b)),
      sharedSet: input.host.cpu_shared_set ?? null,
      nodeCpus: Object.fromEntries(
        input.host.cells.map((cell) => [cell.id, formatCpuList([...cell.cpus].sort((a, b) => a - b))]),
      ),
    },
    placed[0]?.pagesize_kb ?? null,
    pmuOffIn(input.flavor.extra_specs),
  );
  return { ...expectation, hostCellsPlanned: placed.map((p) => p.host_cell) };
}
