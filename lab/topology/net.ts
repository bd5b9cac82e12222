/**
 * IPv4 and CIDR arithmetic for the inventory: subnet membership, reserved addresses, deterministic allocation.
 * Pure functions, no I/O.
 */
import { createHash } from 'node:crypto';

const OCTET = '(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])';
/** Dotted quad without leading zeros (010 would be octal to some tools). */
const IPV4_PATTERN = `^(?:${OCTET}\\.){3}${OCTET}$`;
export const CIDR_PATTERN = `^(?:${OCTET}\\.){3}${OCTET}/(?:[0-9]|[12][0-9]|3[0-2])$`;
const IPV4_RE = new RegExp(IPV4_PATTERN);

/** The range our default subnets come from (RFC 2544 benchmarking range: clear of real LANs). */
const DEFAULT_SUBNET_POOL = '198.18.0.0/15';

export function isIPv4(s: string): boolean {
  return IPV4_RE.test(s);
}

function ipToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Cidr {
  network: number;
  prefix: number;
  /** Number of addresses in the block. */
  size: number;
}

export function parseCidr(cidr: string): Cidr {
  const [ip, p] = cidr.split('/');
  const prefix = Number(p);
  const size = 2 ** (32 - prefix);
  return { network: ipToInt(ip!), prefix, size };
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.network)}/${c.prefix}`;
}

/** The network address the CIDR should have been written with (host bits cleared). */
export function canonicalNetwork(cidr: string): string {
  const c = parseCidr(cidr);
  const aligned = c.network - (c.network % c.size);
  return formatCidr({ ...c, network: aligned });
}

export function inCidr(ip: string, c: Cidr): boolean {
  const n = ipToInt(ip);
  return n >= c.network && n < c.network + c.size;
}

/** First usable address: the bridge / gateway the provider puts on the host side. */
export function gatewayOf(c: Cidr): string {
  return intToIp(c.network + 1);
}

/** Why `ip` cannot be a host address in `c`, or null when it can. */
export function reservedReason(ip: string, c: Cidr): string | null {
  const n = ipToInt(ip);
  if (n === c.network) return 'the network address';
  if (n === c.network + c.size - 1) return 'the broadcast address';
  if (n === c.network + 1) return 'the gateway (bridge) address';
  return null;
}

export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.');
}

/**
 * Allocate addresses for hosts without one, deterministically:
 * a host named HOSTn (n = 1..) prefers offset 10+n (HOST1 → .11); then every other host takes the next free
 * offset from .11 upwards in inventory order, wrapping to .2 … .10 in small subnets.
 * `taken` holds the addresses already assigned explicitly. Returns name → address, or null if the subnet is full.
 */
export function allocateAddresses(c: Cidr, hosts: { name: string; address?: string }[], taken: Set<string>): Map<string, string> | null {
  const used = new Set([...taken].map(ipToInt));
  const out = new Map<string, string>();
  const lastUsable = c.size - 2; // offsets 2 .. size-2 are usable (0 network, 1 gateway, size-1 broadcast)
  const need = hosts.filter((h) => h.address === undefined);
  const take = (offset: number): boolean => {
    if (offset < 2 || offset > lastUsable) return false;
    const n = c.network + offset;
    if (used.has(n)) return false;
    used.add(n);
    return true;
  };
  const rest: string[] = [];
  for (const h of need) {
    const m = /^host([1-9][0-9]?)$/i.exec(h.name);
    const offset = m ? 10 + Number(m[1]) : -1;
    if (m && take(offset)) out.set(h.name, intToIp(c.network + offset));
    else rest.push(h.name);
  }
  const order: number[] = [];
  for (let o = 11; o <= lastUsable; o++) order.push(o);
  for (let o = 2; o <= Math.min(10, lastUsable); o++) order.push(o);
  let i = 0;
  for (const name of rest) {
    while (i < order.length && !take(order[i]!)) i++;
    if (i >= order.length) return null;
    out.set(name, intToIp(c.network + order[i]!));
    i++;
  }
  return out;
}

/**
 * Default subnet for a lab: a /24 inside 198.18.0.0/15 chosen from a hash of the lab name, so two labs with
 * different names rarely collide and the same lab always gets the same network.
 */
export function defaultSubnet(lab: string): string {
  const h = createHash('sha256').update(lab).digest();
  const k = ((h[0]! << 8) | h[1]!) % 512;
  const pool = parseCidr(DEFAULT_SUBNET_POOL);
  return formatCidr({ network: pool.network + k * 256, prefix: 24, size: 256 });
}
