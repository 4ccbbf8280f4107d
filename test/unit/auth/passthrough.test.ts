// Passthrough never sends a password to a next hop whose TLS did not verify, unless it is on loopback.
import t from 'tap';
import { isLoopback, PassthroughCheck } from '../../../src/auth/passthrough.js';
import type { OpenResult } from '../../../src/outbound/open-hop.js';
import type { NextHop } from '../../../src/routing/next-hop.js';

const nextHop: NextHop = {
  domain: '*',
  source: 'route',
  hosts: [{ name: 'smarthost.test', port: 587, preference: null }],
  tls: { level: 'may', minVersion: 'TLSv1.2', mtaSts: false, enforceHistory: false },
  key: 'k',
};

function fakeOpen(address: string, verified: boolean) {
  const calls: string[] = [];
  const connection = {
    allowsAuth: true,
    end: () => calls.push('end'),
    close: () => calls.push('close'),
    login: (_auth: unknown, cb: (err: Error | null) => void) => {
      calls.push('login');
      cb(null);
    },
  };
  const open = (): Promise<OpenResult> =>
    Promise.resolve({
      ok: true,
      attempts: [],
      hop: {
        connection: connection as never,
        facts: {
          host: 'smarthost.test',
          address,
          port: 587,
          mxPreference: null,
          starttls: 'encrypted',
          tls: {
            level: verified ? 'verified' : 'encrypted',
            protocol: 'TLSv1.3',
            cipher: 'x',
            verified,
          },
          policy: { required: 'none', checks: [] },
        },
      },
    });
  return { open, calls };
}

void t.test('an unverified hop off loopback never sees the password', async (t) => {
  const { open, calls } = fakeOpen('192.0.2.10', false);
  const r = await new PassthroughCheck(nextHop, open, 1000).check('alice', 'pw');
  t.same(r, { ok: false, temporary: true, why: 'next hop TLS not verified: credentials not sent' });
  t.same(calls, ['end'], 'closed without AUTH');
});

void t.test('a verified hop, or one on loopback, gets the AUTH', async (t) => {
  for (const [address, verified] of [
    ['192.0.2.10', true],
    ['127.0.0.1', false],
  ] as const) {
    const { open, calls } = fakeOpen(address, verified);
    const r = await new PassthroughCheck(nextHop, open, 1000).check('alice', 'pw');
    t.equal(r.ok, true, `${address} verified=${String(verified)}`);
    t.same(calls, ['login']);
  }
});

void t.test('loopback addresses', (t) => {
  t.ok(isLoopback('127.0.0.1'));
  t.ok(isLoopback('127.1.2.3'));
  t.ok(isLoopback('::1'));
  t.ok(isLoopback('::ffff:127.0.0.1'));
  t.notOk(isLoopback('10.0.0.1'));
  t.notOk(isLoopback('::2'));
  t.end();
});
