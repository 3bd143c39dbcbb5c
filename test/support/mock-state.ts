/**
 * What the providers would report for a resource under `pulumi.runtime.setMocks`: the outputs
 * that are not inputs (an instance's address, what a host-prep step printed, a check's verdict),
 * so that the whole program evaluates as it does in a real deployment.
 */
const BOOT_BEFORE = "6c1f1c2e-5b1a-4f5e-9d41-0a7c3b2e8f10";
const BOOT_AFTER = "0d9e8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b";
/** A well-formed ed25519 public key blob (32 zero bytes), for a guest's mocked host key. */
const GUEST_KEY_BLOB = "AAAAC3NzaC1lZDI1NTE5AAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/** The host key a GuestHostKey named `name` has under these mocks. */
export function mockedGuestHostKey(name: string): { publicKey: string; privateKey: string } {
  return {
    publicKey: `ssh-ed25519 ${GUEST_KEY_BLOB} ${name}`,
    privateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nmocked\n-----END OPENSSH PRIVATE KEY-----\n",
  };
}

export function computedState(type: string, name: string, n: number): Record<string, unknown> {
  switch (type) {
    case "openstack:compute/instance:Instance":
      return { accessIpV4: `10.0.0.${n}` };
    case "openstack:networking/floatingIp:FloatingIp":
      return { address: `203.0.113.${n}` };
    case "openstack:compute/keypair:Keypair":
      return { fingerprint: "SHA256:test" };
    case "command:remote:Command":
      // A host that needed everything: each step changed something and reboot.sh scheduled a reboot.
      return { stdout: name.endsWith("-reboot") ? `boot_id=${BOOT_BEFORE}\nchanged\n` : "changed\n" };
    case "pulumi-nodejs:dynamic:RebootWaiter":
      return { bootId: BOOT_AFTER };
    case "pulumi-nodejs:dynamic/guest:GuestHostKey":
      return mockedGuestHostKey(name);
    case "pulumi-nodejs:dynamic/cloud:ServerHost":
      // Where Nova placed the server: the dev stack's first RT host.
      return { host: "compute-rt-01" };
    default:
      return /^pulumi-nodejs:dynamic\/verify:/.test(type)
        ? {
            passed: true,
            observed: [{ check: "mocked", expected: "", observed: "", ok: true, hint: "" }],
            measured: [],
          }
        : {};
  }
}
