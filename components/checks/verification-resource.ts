/**
 * What the three verification resources share: their results as outputs, split the way their
 * provider keeps them (lib/providers/check.ts), and joined again for the stack outputs.
 */
import * as pulumi from "@pulumi/pulumi";
import type { CheckResult } from "../../lib/checks/result";
import type { ProviderModule } from "../../lib/providers/loader";
import { BundledResource } from "../bundled-resource";

export class VerificationResource extends BundledResource {
  /** What the last deployment or refresh read from the machine. */
  declare readonly observed: pulumi.Output<CheckResult[]>;
  /** What the latency tools and counter snapshots found at the last deployment. */
  declare readonly measured: pulumi.Output<CheckResult[]>;
  declare readonly passed: pulumi.Output<boolean>;
  readonly results: pulumi.Output<CheckResult[]>;

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
    this.results = pulumi.all([this.observed, this.measured]).apply(([o, m]) => [...(o ?? []), ...(m ?? [])]);
  }
}
