/**
 * The base of this project's dynamic resources: registered as `pulumi.dynamic.Resource` registers
 * one (type `pulumi-nodejs:dynamic[/<module>]:<type>`, so the URNs are the same, served by the
 * pulumi-nodejs plugin), with `__provider` the text of lib/providers/bundle.ts instead of the
 * SDK's closure serialization of a provider object. Its plain inputs travel as one property
 * (lib/providers/plain-inputs.ts), which the provider's `check` spreads back.
 */
import * as pulumi from "@pulumi/pulumi";
import { providerText } from "../lib/providers/bundle";
import type { ProviderModule } from "../lib/providers/loader";
import { foldPlainInputs } from "../lib/providers/plain-inputs";

export abstract class BundledResource extends pulumi.CustomResource {
  constructor(
    provider: ProviderModule,
    name: string,
    props: pulumi.Inputs,
    opts: pulumi.CustomResourceOptions | undefined,
    module: string | undefined,
    type: string,
  ) {
    super(
      `pulumi-nodejs:dynamic${module ? `/${module}` : ""}:${type}`,
      name,
      { ...foldPlainInputs(props), __provider: providerText(provider) },
      opts,
    );
  }
}
