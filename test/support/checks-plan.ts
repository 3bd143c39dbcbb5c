/** The domain expectation of a Nova-oracle case, for the domain-check tests. */
import type { DomainExpectation } from "../../lib/checks/domain-expectation";
import { expectationFromRequest, pmuOffIn } from "../../lib/checks/domain-expectation";
import { formatCpuList } from "../../lib/cpu/cpuset";
import { guestRequest } from "../../lib/plan/nova/model";
import type { OracleCase } from "./oracle-case";
import { toNovaFlavor } from "./oracle-case";

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
