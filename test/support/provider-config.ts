/** Configures a dynamic provider the way the engine does, with the stack's secret SSH key. */
import type * as pulumi from "@pulumi/pulumi";
import { PRIVATE_KEY_CONFIG } from "../../lib/providers/ssh-credentials";

export async function configureKey(
  provider: pulumi.dynamic.ResourceProvider,
  privateKey: string | undefined,
): Promise<void> {
  const values: Record<string, string> = privateKey === undefined ? {} : { [PRIVATE_KEY_CONFIG]: privateKey };
  const config = {
    get: (key: string) => values[key],
    require: (key: string) => {
      if (!(key in values)) throw new Error(`Missing required configuration key: ${key}`);
      return values[key];
    },
  };
  await provider.configure!({ config });
}
