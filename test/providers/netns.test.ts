/** Unit tests of the netns provider's pure parts: name derivation and `ip` output parsing. No root needed. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { netnsNames, parseAddrs, parseLinks } from '../../lab/providers/netns.js';

const IFNAME = /^[a-z0-9]{1,15}$/;

test('netnsNames: interface names fit IFNAMSIZ, are deterministic and distinct per host and per lab', () => {
  const labs = ['book', 'a', 'x'.repeat(31), 'lab-with-dashes-0123456789abcdef'.slice(0, 31)];
  const hosts = ['HOST1', 'HOST2', 'HOST3', 'HOST4', 'worker-7.example.org', 'h'.repeat(63)];
  const veths = new Set<string>();
  const bridges = new Set<string>();
  for (const lab of labs) {
    for (const host of hosts) {
      const n = netnsNames(lab, host);
      assert.match(n.veth, IFNAME);
      assert.match(n.bridge, IFNAME);
      assert.ok(n.veth.length <= 15 && n.bridge.length <= 15);
      assert.match(n.veth, /^lv[0-9a-f]{8}$/);
      assert.match(n.bridge, /^lb[0-9a-f]{8}$/);
      assert.deepEqual(netnsNames(lab, host), n, 'deterministic');
      assert.deepEqual(netnsNames(lab, host.toUpperCase()), netnsNames(lab, host.toLowerCase()), 'host names compare case-insensitively');
      assert.equal(n.bridge, netnsNames(lab, 'other').bridge, 'one bridge per lab');
      veths.add(n.veth);
      // a namespace name is a file in /run/netns
      assert.ok(n.namespace.length <= 64, n.namespace);
      assert.match(n.namespace, /^lab-[a-z0-9.-]+$/);
      assert.ok(!n.namespace.includes('/'));
    }
    bridges.add(netnsNames(lab, 'HOST1').bridge);
  }
  assert.equal(veths.size, labs.length * hosts.length, 'distinct per (lab, host)');
  assert.equal(bridges.size, labs.length, 'distinct per lab');
  assert.equal(netnsNames('book', 'HOST1').namespace, 'lab-book-host1');
  assert.equal(netnsNames('book', 'HOST1').veth, netnsNames('book', 'HOST1').veth);
  assert.notEqual(netnsNames('book', 'HOST1').veth, netnsNames('book', 'HOST2').veth);
  assert.notEqual(netnsNames('book', 'HOST1').veth, netnsNames('book2', 'HOST1').veth);
});

test('parseLinks / parseAddrs read `ip -o` output', () => {
  const links = parseLinks(
    [
      '1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN mode DEFAULT group default qlen 1000\\    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00',
      '6: lv0123abcd@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue master lb89abcdef state UP mode DEFAULT group default qlen 1000\\    link/ether 6a:bd:82:a3:14:aa brd ff:ff:ff:ff:ff:ff link-netns lab-x-host1',
      '7: lb89abcdef: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 1000',
    ].join('\n'),
  );
  assert.deepEqual(links.get('lv0123abcd'), { name: 'lv0123abcd', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], master: 'lb89abcdef' });
  assert.deepEqual(links.get('lb89abcdef'), { name: 'lb89abcdef', flags: ['BROADCAST', 'MULTICAST'] });
  assert.ok(links.has('lo'));
  const addrs = parseAddrs('1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever\n5: lb89abcdef    inet 198.18.200.1/24 scope global lb89abcdef\\ x\n5: lb89abcdef    inet 198.18.201.1/24 scope global lb89abcdef\n');
  assert.deepEqual(addrs.get('lb89abcdef'), ['198.18.200.1/24', '198.18.201.1/24']);
  assert.deepEqual(addrs.get('lo'), ['127.0.0.1/8']);
});
