// PROXY protocol headers, v1 and v2: the original client address, health checks, and malformed or oversized headers refused.
import t from 'tap';
import { parseProxyHeader } from '../../../src/inbound/proxy-protocol.js';

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

function v2(command: number, famProto: number, addresses: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x20 | command;
  head[1] = famProto;
  head.writeUInt16BE(addresses.length, 2);
  return Buffer.concat([SIG, head, addresses]);
}

void t.test('v1', (t) => {
  t.same(parseProxyHeader(Buffer.from('PROXY TCP4 203.0.113.9 192.0.2.1 40000 25\r\nEHLO x\r\n')), {
    kind: 'ok',
    consumed: 43,
    source: { address: '203.0.113.9', port: 40000 },
  });
  t.match(parseProxyHeader(Buffer.from('PROXY TCP6 2001:db8::9 2001:db8::1 40000 25\r\n')), {
    kind: 'ok',
    source: { address: '2001:db8::9' },
  });
  t.same(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { kind: 'ok', consumed: 15 });
  t.same(parseProxyHeader(Buffer.from('PROXY TCP4 203.0.113.9')), { kind: 'incomplete' });
  for (const bad of [
    'PROXY TCP4 not-an-ip 192.0.2.1 1 25\r\n',
    'PROXY TCP6 203.0.113.9 192.0.2.1 1 25\r\n',
    'EHLO client\r\n',
    'PROXY TCP4 1.2.3.4 5.6.7.8 x 25\r\n',
  ]) {
    t.equal(parseProxyHeader(Buffer.from(bad)).kind, 'invalid', JSON.stringify(bad));
  }
  t.same(parseProxyHeader(Buffer.alloc(200, 'A')), { kind: 'invalid', why: 'v1 line too long' });
  t.end();
});

void t.test('v2', (t) => {
  const ipv4 = Buffer.from([203, 0, 113, 9, 192, 0, 2, 1, 0x9c, 0x40, 0, 25]);
  t.same(parseProxyHeader(Buffer.concat([v2(1, 0x11, ipv4), Buffer.from('EHLO')])), {
    kind: 'ok',
    consumed: 28,
    source: { address: '203.0.113.9', port: 40000 },
  });
  const ipv6 = Buffer.alloc(36);
  Buffer.from('20010db8000000000000000000000009', 'hex').copy(ipv6, 0);
  ipv6.writeUInt16BE(40001, 32);
  t.match(parseProxyHeader(v2(1, 0x21, ipv6)), {
    kind: 'ok',
    source: { address: '2001:db8:0:0:0:0:0:9', port: 40001 },
  });
  const mapped = Buffer.alloc(36);
  Buffer.from('00000000000000000000ffffcb007109', 'hex').copy(mapped, 0);
  t.match(parseProxyHeader(v2(1, 0x21, mapped)), { source: { address: '::ffff:203.0.113.9' } });
  t.same(
    parseProxyHeader(v2(0, 0x00, Buffer.alloc(0))),
    { kind: 'ok', consumed: 16 },
    'LOCAL: a health check',
  );
  t.same(parseProxyHeader(v2(1, 0x11, ipv4).subarray(0, 20)), { kind: 'incomplete' });
  t.same(parseProxyHeader(SIG.subarray(0, 5)), { kind: 'incomplete' }, 'a partial signature waits');
  t.same(parseProxyHeader(v2(1, 0x11, Buffer.alloc(4))), {
    kind: 'invalid',
    why: 'short v2 IPv4 block',
  });
  t.same(parseProxyHeader(v2(1, 0x31, Buffer.alloc(216))), {
    kind: 'invalid',
    why: 'unsupported v2 address family',
  });
  t.same(parseProxyHeader(v2(1, 0x11, Buffer.alloc(4000))), {
    kind: 'invalid',
    why: 'v2 header too long',
  });
  const badVersion = v2(1, 0x11, ipv4);
  badVersion[12] = 0x11;
  t.same(parseProxyHeader(badVersion), { kind: 'invalid', why: 'unsupported v2 version' });
  t.end();
});
