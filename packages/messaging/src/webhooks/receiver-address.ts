// Where a tenant's webhook may be delivered: only to public addresses, unless the receiver's host
// is on the explicit allow-list (WEBHOOK_ALLOWED_HOSTS). Checked on the resolved addresses, so a
// public name pointing at 127.0.0.1 or 10.x is refused like the address itself; the delivery
// then connects to the address that was checked (no second lookup an attacker could answer
// differently).
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

// One list per family: a BlockList also matches IPv4 addresses against IPv4-mapped IPv6 rules.
const blocked = new BlockList();
const blocked6 = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local (cloud metadata)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const)
  blocked.addSubnet(network, prefix, 'ipv4');
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96], // NAT64
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const)
  blocked6.addSubnet(network, prefix, 'ipv6');

/** True when `address` (IPv4 or IPv6) is loopback, private, link-local, unique-local or otherwise not public. */
export function isInternalAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family === 6) {
    // IPv4-mapped (::ffff:a.b.c.d, also written ::ffff:xxxx:xxxx): checked as the IPv4 address it carries.
    const mapped = /^::ffff:(?:0:)?([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
    const dotted = /^::ffff:(?:0:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (dotted) return isInternalAddress(dotted[1]!);
    if (mapped) {
      const high = Number.parseInt(mapped[1]!, 16);
      const low = Number.parseInt(mapped[2]!, 16);
      return isInternalAddress(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`);
    }
    return blocked6.check(address, 'ipv6');
  }
  return true;
}

/** A receiver that may be delivered to: the address to connect to, or undefined to resolve normally (allow-listed). */
export type ReceiverCheck =
  | { ok: true; address: string | undefined; family: 4 | 6 | undefined }
  | { ok: false; reason: string };

/** The host part of a receiver URL as DNS and the allow-list see it (no IPv6 brackets, lower case). */
export function receiverHost(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

/**
 * Resolves a receiver URL's host and refuses it when any of its addresses is internal, unless
 * the host is in `allowedHosts` (exact host names or addresses, lower case).
 */
export async function checkReceiver(url: URL, allowedHosts: ReadonlySet<string>): Promise<ReceiverCheck> {
  const host = receiverHost(url);
  if (allowedHosts.has(host)) return { ok: true, address: undefined, family: undefined };
  let addresses: { address: string; family: number }[];
  try {
    addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true });
  } catch {
    return { ok: false, reason: `the host ${host} does not resolve` };
  }
  if (addresses.length === 0) return { ok: false, reason: `the host ${host} does not resolve` };
  const internal = addresses.find((a) => isInternalAddress(a.address));
  if (internal) {
    return {
      ok: false,
      reason: `the host ${host} is (or resolves to) the internal address ${internal.address}; internal receivers must be in WEBHOOK_ALLOWED_HOSTS`,
    };
  }
  const first = addresses[0]!;
  return { ok: true, address: first.address, family: first.family === 6 ? 6 : 4 };
}
