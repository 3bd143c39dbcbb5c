/**
 * `npm run bench` (load part): the cold load of the program as `pulumi preview` starts it, a fresh
 * node with Pulumi.yaml's nodeargs running @pulumi/pulumi's own runner on index.ts, for the dev
 * stack under the SDK's mocks (test/support/pulumi-program.ts). Three loads; prints each and the
 * median. Target: under 5 s (the runtime's ts-node, type-checking, took 12.5-16.9 s here).
 */
import { devRaw, PROJECT_DIR } from "../test/support/dev-config";
import { loadProgram, projectInfo } from "../test/support/pulumi-program";

async function main(): Promise<void> {
  const { runtimeOptions } = projectInfo(PROJECT_DIR);
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const loaded = await loadProgram({ stack: "dev", config: devRaw(), preview: true });
    if (!loaded.ok) throw new Error(`the dev stack did not load:\n${loaded.error}`);
    times.push(loaded.durationMs);
    console.log(`cold load ${i + 1}: ${loaded.durationMs} ms, ${loaded.resources.length} registrations`);
  }
  const median = [...times].sort((a, b) => a - b)[1];
  console.log(
    `cold load of the dev stack (runtime options ${JSON.stringify(runtimeOptions)}): median ${median} ms (target: < 5000 ms)`,
  );
}

void main();
