/** The registrations the SDK's mock monitor receives, components included, for tests that record them. */
import * as pulumi from "@pulumi/pulumi";

/** The parts of a RegisterResourceRequest the tests read. */
export interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getDependenciesList(): string[];
  getReplaceonchangesList(): string[];
  getDeletebeforereplace(): boolean;
  getObject(): { toJavaScript(): Record<string, unknown> } | undefined;
}

/** Calls `record` with each registration, then lets the mock monitor register it. Call after `setMocks`. */
export function onRegister(record: (req: RegisterRequest) => void): void {
  const monitor = pulumi.runtime.getMonitor() as unknown as {
    registerResource(req: RegisterRequest, cb: unknown): void;
  };
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req, cb) => {
    record(req);
    register(req, cb);
  };
}
