/** The guest host keys the program makes: whole ed25519 keys, though ssh2's generator sometimes drops a byte. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateEd25519HostKey, isWholeEd25519 } from "../../../lib/transport/host-key";

// Made by ssh2 1.17's generator: a 31-byte key (its first byte, 0, dropped), which sshd refuses to load.
const SHORT = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAH9TxWjXm1Q2c9XiNPVKYfUPu9x9jXreIzv3SCH+fVg4= openstack-rt rt-server";
const WHOLE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAILEZ9Ak3Chw7pUqhmeFtPzChapi4MzTG0VCi8fxsKcRb";

describe("ed25519 host keys", () => {
  it("tells a whole key from one missing a byte, and from other types", () => {
    assert.equal(isWholeEd25519(WHOLE), true);
    assert.equal(isWholeEd25519(SHORT), false);
    assert.equal(isWholeEd25519("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC"), false);
    assert.equal(isWholeEd25519("ssh-ed25519"), false);
  });

  it("makes only whole keys, each with its comment (2,000 keys: a short one every 256 or so without the check)", () => {
    for (let i = 0; i < 2000; i++) {
      const { publicKey, privateKey } = generateEd25519HostKey("openstack-rt rt-server");
      assert.ok(isWholeEd25519(publicKey), publicKey);
      assert.match(publicKey, / openstack-rt rt-server$/);
      assert.match(privateKey, /^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    }
  });
});
