/**
 * The Pulumi SDK's mocks for a test that runs the program or its components: each resource gets
 * id `<name>-id` and, as state, its inputs and what the cloud would compute (mock-state.ts);
 * getAuthScope reports the credentials' project, and any other call returns its inputs.
 */
import * as pulumi from "@pulumi/pulumi";
import { computedState } from "./mock-state";
import { unfoldPlainInputs } from "../../lib/providers/plain-inputs";

type ResourceArgs = pulumi.runtime.MockResourceArgs;
type ResourceResult = pulumi.runtime.MockResourceResult;

const AUTH_SCOPE = "openstack:identity/getAuthScope:getAuthScope";

export interface ProgramMocks {
  /** A preview (`pulumi preview`, unknowns stay unknown) instead of an update; default false. */
  preview?: boolean;
  /** Default openstack-rt. */
  project?: string;
  /** Default dev. */
  stack?: string;
  /** What a resource's state holds besides its inputs; `n` counts the resources, from 1. Default computedState. */
  state?: (a: ResourceArgs, n: number) => Record<string, unknown>;
  /** A resource the test answers itself (a StackReference, say); undefined leaves it to the mocks. */
  answer?: (a: ResourceArgs) => ResourceResult | undefined;
  /** The project getAuthScope reports; default project-id. */
  projectId?: string;
  /** Sees each new resource's type, name and inputs. */
  onResource?: (a: ResourceArgs) => void;
  /** Sees each function call's token. */
  onCall?: (token: string) => void;
}

/**
 * Sets the SDK's mocks, which resets the runtime. The mock monitor is in place when this returns
 * (support/mock-monitor.ts's onRegister may follow at once); the promise resolves soon after.
 */
export function setProgramMocks(m: ProgramMocks = {}): Promise<void> {
  const state = m.state ?? ((a: ResourceArgs, n: number) => computedState(a.type, a.name, n));
  let n = 0;
  return pulumi.runtime.setMocks(
    {
      newResource: (a) => {
        m.onResource?.(a);
        n += 1;
        return (
          m.answer?.(a) ?? {
            id: `${a.name}-id`,
            state: { ...unfoldPlainInputs(a.inputs as Record<string, unknown>), ...state(a, n) },
          }
        );
      },
      call: (a) => {
        m.onCall?.(a.token);
        return a.token === AUTH_SCOPE
          ? { projectId: m.projectId ?? "project-id" }
          : (a.inputs as Record<string, unknown>);
      },
    },
    m.project ?? "openstack-rt",
    m.stack ?? "dev",
    m.preview ?? false,
  );
}
