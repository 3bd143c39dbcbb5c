/**
 * An ed25519 SSH host key pair in OpenSSH's formats, for a guest's GuestHostKey and for sizing
 * its user data. ssh2 1.17's generator drops a leading zero byte of the 32-byte public key
 * (about one key in 256): the key it writes is 31 bytes, which sshd refuses to load, so such a
 * guest would come up without the host key it is pinned to. Those pairs are made again.
 */
import { utils } from "ssh2";

/** Whether `ssh-ed25519 <base64> ...` carries a whole key: the type string, then 32 bytes. */
export function isWholeEd25519(publicKey: string): boolean {
  const blob = Buffer.from(publicKey.split(" ")[1] ?? "", "base64");
  if (blob.length < 4) return false;
  const typeLength = blob.readUInt32BE(0);
  const type = blob.subarray(4, 4 + typeLength).toString();
  const keyAt = 4 + typeLength;
  return type === "ssh-ed25519" && blob.length === keyAt + 4 + 32 && blob.readUInt32BE(keyAt) === 32;
}

export function generateEd25519HostKey(comment: string): { publicKey: string; privateKey: string } {
  for (;;) {
    const pair = utils.generateKeyPairSync("ed25519", { comment });
    const publicKey = pair.public.trim();
    if (isWholeEd25519(publicKey)) return { publicKey, privateKey: pair.private };
  }
}
