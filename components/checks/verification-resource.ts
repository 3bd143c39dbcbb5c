/**
 * What the three verification resources share: their results as outputs, split the way their
 * provider keeps them (lib/providers/check.ts), and joined again for the stack outputs.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { CheckResult } from "../../lib/checks/result";
import type { VerificationOutput } from "../../lib/render/outputs";
import type { ProviderModule } from "../../lib/providers/loader";
import { BundledResource } from "../bundled-resource";

export class VerificationResource extends BundledResource {
  /** What the last deployment or refresh read from the machine. */
  declare readonly observed: pulumi.Output<CheckResult[]>;
  /** What the latency tools and counter snapshots found at the last deployment. */
  declare readonly measured: pulumi.Output<CheckResult[]>;
  declare readonly passed: pulumi.Output<boolean>;
  /** passed and every result, as the stack's `verification` output lists each check. */
  readonly verdict: pulumi.Output<VerificationOutput>;

  constructor(
    provider: ProviderModule,
    name: string,
    inputs: Record<string, pulumi.Input<unknown>>,
    opts: pulumi.CustomResourceOptions | undefined,
    type: string,
  ) {
    super(
      provider,
      name,
      { ...inputs, observed: undefined, measured: undefined, passed: undefined },
      opts,
      "verify",
      type,
    );
    // Nested applies, not pulumi.all: an all() of n outputs holds 2n + 1 more Outputs while they are
    // pending, and a fleet has hundreds of checks.
    this.verdict = this.passed.apply((passed) =>
      this.observed.apply((o) => this.measured.apply((m) => ({ passed, results: [...(o ?? []), ...(m ?? [])] }))),
    );
  }
}
