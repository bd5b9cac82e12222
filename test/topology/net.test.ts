import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allocateAddresses, canonicalNetwork, defaultSubnet, inCidr, isIPv4, parseCidr, reservedReason } from '../../lab/topology/net.js';

describe('IPv4 helpers', () => {
  it('isIPv4 rejects leading zeros and out-of-range octets', () => {
    assert.ok(isIPv4('198.18.0.11'));
    assert.ok(!isIPv4('198.18.0.256'));
    assert.ok(!isIPv4('198.018.0.1'));
    assert.ok(!isIPv4('198.18.0'));
    assert.ok(!isIPv4('pi1.local'));
  });

  it('subnets: membership, canonical form, reserved addresses', () => {
    const c = parseCidr('198.18.0.0/24');
    assert.ok(inCidr('198.18.0.200', c));
    assert.ok(!inCidr('198.18.1.1', c));
    assert.equal(canonicalNetwork('198.18.0.77/24'), '198.18.0.0/24');
    assert.equal(canonicalNetwork('10.1.2.3/16'), '10.1.0.0/16');
    assert.equal(reservedReason('198.18.0.0', c), 'the network address');
    assert.equal(reservedReason('198.18.0.1', c), 'the gateway (bridge) address');
    assert.equal(reservedReason('198.18.0.255', c), 'the broadcast address');
    assert.equal(reservedReason('198.18.0.2', c), null);
  });

  it('allocation is deterministic and fills small subnets from .2', () => {
    const c = parseCidr('10.0.0.0/28'); // offsets 2..14 usable
    const hosts = ['HOST1', 'a', 'b', 'c', 'd', 'e'].map((name) => ({ name }));
    const m = allocateAddresses(c, hosts, new Set(['10.0.0.12']))!;
    assert.deepEqual(Object.fromEntries(m), {
      HOST1: '10.0.0.11',
      a: '10.0.0.13',
      b: '10.0.0.14',
      c: '10.0.0.2',
      d: '10.0.0.3',
      e: '10.0.0.4',
    });
    assert.equal(allocateAddresses(parseCidr('10.0.0.0/30'), [{ name: 'a' }, { name: 'b' }], new Set()), null);
  });

  it('default subnets are /24s inside 198.18.0.0/15', () => {
    const pool = parseCidr('198.18.0.0/15');
    const seen = new Set<string>();
    for (const lab of ['book', 'pis', 'dock', 'a', 'b', 'c', 'lab-1', 'lab-2']) {
      const s = defaultSubnet(lab);
      assert.match(s, /\/24$/);
      assert.ok(inCidr(s.split('/')[0]!, pool), s);
      assert.equal(defaultSubnet(lab), s);
      seen.add(s);
    }
    assert.ok(seen.size >= 6, 'different labs mostly get different subnets');
  });
});
