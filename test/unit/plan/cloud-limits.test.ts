/** Limits the cloud enforces at create time, checked by the plan: the user data size Nova takes. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NOVA_MAX_USER_DATA_BYTES, userDataSize, withSshHostKey } from "../../../lib/desired/cloud-init";
import { sshHostKeyProvider } from "../../../lib/providers/ssh-host-key";
import { decideStack } from "../../../lib/desired/decide";
import { parseStackConfig } from "../../../lib/config/schema";
import { PROJECT_DIR, devRaw } from "../../support/dev-config";

describe("user data size", () => {
  it("is the size Nova checks: base64 of the text with the host key the server's provider makes", async () => {
    const decided = decideStack(devRaw(), PROJECT_DIR);
    assert.ok(decided.ok);
    for (const { decision: server } of decided.desired.servers) {
      const made = await sshHostKeyProvider.create({ comment: `openstack-rt ${server.name}` });
      const outs = made.outs as { publicKey: string; privateKey: string };
      const deployed = withSshHostKey(server.userData, outs);
      assert.equal(userDataSize(server.userData, server.name), Buffer.from(deployed).toString("base64").length);
      assert.ok(userDataSize(server.userData, server.name) < NOVA_MAX_USER_DATA_BYTES);
    }
  });

  it("over the limit is a problem naming the server, its flavor and the size; at the limit's side it plans", () => {
    const raw = devRaw();
    const flavor = raw.flavors[0] as { name: string; extraSpecs?: Record<string, string> };
    raw.servers[0].flavor = flavor.name;
    const specs = (n: number) =>
      Object.fromEntries(
        Array.from({ length: n }, (_, i) => [
          `custom:${String(i).padStart(3, "0")}${"k".repeat(240)}`,
          "v".repeat(255),
        ]),
      );
    flavor.extraSpecs = specs(120);
    const over = decideStack(raw, PROJECT_DIR);
    assert.equal(over.ok, false);
    const problem = !over.ok ? over.problems.find((p) => p.path === "openstack-rt:servers[0]") : undefined;
    assert.match(problem?.message ?? "", new RegExp(`of flavor "${flavor.name}" would get \\d+ bytes of user data`));
    flavor.extraSpecs = specs(20);
    assert.ok(decideStack(raw, PROJECT_DIR).ok);
  });

  it("image properties: at most 127, as Glance's image_property_quota (128) less the sha256 the program adds", () => {
    const props = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, "v"]));
    const raw = devRaw();
    raw.image = { ...(raw.image as object), properties: props(128) };
    const over = parseStackConfig(raw);
    assert.ok(!over.ok);
    assert.ok(
      over.problems.some(
        (p) => p.path === "openstack-rt:image.properties" && /has more than 127 entries/.test(p.message),
      ),
      JSON.stringify(over.problems),
    );
    raw.image = { ...(raw.image as object), properties: props(127) };
    assert.ok(parseStackConfig(raw).ok);
  });
});
