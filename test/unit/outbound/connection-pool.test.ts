// The connection cache's decisions: which cached session today's policy accepts, the bounds (capacity, age, transactions), and the TLS session cache's bounds.
import { EventEmitter } from 'node:events';
import t from 'tap';
import {
  acceptable,
  ConnectionPool,
  type ConnectionCacheSettings,
  type EvictionReason,
} from '../../../src/outbound/connection-pool.js';
import { decidePolicy } from '../../../src/outbound/hop-policy.js';
import type { OpenedHop } from '../../../src/outbound/open-hop.js';
import { PLAINTEXT, type TlsFacts } from '../../../src/outbound/tls-facts.js';
import { TlsSessionCache } from '../../../src/outbound/tls-sessions.js';
import type { NextHop } from '../../../src/routing/next-hop.js';
import type { RouteTls } from '../../../src/routing/route-tls.js';
import { parseReply } from '../../../src/smtp/reply.js';
import { ENCRYPTED, openedHop } from '../../support/opened-hop.js';

const route = (level: RouteTls['level']): RouteTls => ({
  level,
  minVersion: 'TLSv1.2',
  mtaSts: false,
  enforceHistory: false,
});

const nextHop = (level: RouteTls['level'] = 'may', key = 'route:0:hop.test:25'): NextHop => ({
  domain: 'dest.test',
  source: 'route',
  hosts: [{ name: 'hop.test', port: 25, preference: null }],
  tls: route(level),
  key,
});

const VERIFIED: TlsFacts = { ...ENCRYPTED, level: 'verified', verified: true };
delete (VERIFIED as { verifyError?: string }).verifyError;

/** A stand-in for HopConnection: what the cache looks at and what it calls, recorded. */
class FakeConnection extends EventEmitter {
  usable = true;
  busy = false;
  ehlo = new Map<string, string>();
  calls: string[] = [];
  rsetReply = '250 2.0.0 Ok';
  get extensions(): ReadonlyMap<string, string> {
    return this.ehlo;
  }
  command(line: string): Promise<unknown> {
    this.calls.push(line);
    return Promise.resolve(parseReply(this.rsetReply));
  }
  end(): void {
    this.calls.push('QUIT');
  }
  close(): void {
    this.calls.push('close');
  }
}

function hop(
  tls: TlsFacts,
  connection = new FakeConnection(),
): OpenedHop & { fake: FakeConnection } {
  return openedHop(connection, tls);
}

const policy = (level: RouteTls['level'], requireTls = false) =>
  decidePolicy({ route: route(level), requireTls, mx: false });

void t.test('acceptable: judged again against the policy in force now', (t) => {
  const encrypted = hop(ENCRYPTED);
  t.ok(acceptable(encrypted, nextHop(), policy('may')));
  t.ok(acceptable(encrypted, nextHop(), policy('encrypt')));
  t.notOk(acceptable(encrypted, nextHop(), policy('verify')), 'verify refuses encrypted-only');
  t.notOk(acceptable(hop(PLAINTEXT), nextHop(), policy('encrypt')), 'encrypt refuses plaintext');
  t.ok(acceptable(hop(VERIFIED), nextHop(), policy('verify')));
  t.end();
});

void t.test('acceptable: a REQUIRETLS transaction needs verified TLS and the keyword', (t) => {
  t.notOk(acceptable(hop(ENCRYPTED), nextHop(), policy('may', true)), 'not verified');
  const verified = hop(VERIFIED);
  t.notOk(acceptable(verified, nextHop(), policy('may', true)), 'REQUIRETLS not offered');
  verified.fake.ehlo.set('REQUIRETLS', '');
  t.ok(acceptable(verified, nextHop(), policy('may', true)));
  t.end();
});

void t.test('acceptable: not when unusable, busy, or no longer one of the hosts', (t) => {
  const h = hop(ENCRYPTED);
  h.fake.busy = true;
  t.notOk(acceptable(h, nextHop(), policy('may')));
  h.fake.busy = false;
  h.fake.usable = false;
  t.notOk(acceptable(h, nextHop(), policy('may')));
  const moved = { ...nextHop(), hosts: [{ name: 'other.test', port: 25, preference: null }] };
  t.notOk(acceptable(hop(ENCRYPTED), moved, policy('may')), 'the MX set changed');
  t.end();
});

const SETTINGS: ConnectionCacheSettings = {
  enabled: true,
  maxIdlePerHop: 2,
  maxIdle: 3,
  idleSeconds: 30,
  maxAgeSeconds: 300,
  maxTransactions: 10,
};

function pool(settings: Partial<ConnectionCacheSettings> = {}, now = () => 0) {
  const evicted: EvictionReason[] = [];
  const counts = { hit: 0, miss: 0, idle: 0 };
  const p = new ConnectionPool(
    { ...SETTINGS, ...settings },
    {
      checkMs: 1000,
      now,
      observer: {
        hit: () => (counts.hit += 1),
        miss: () => (counts.miss += 1),
        evicted: (r) => evicted.push(r),
        idle: (n) => (counts.idle = n),
      },
    },
  );
  t.teardown(() => p.close());
  return { p, evicted, counts };
}

void t.test('take: the most recent acceptable session, after RSET', async (t) => {
  const { p, counts } = pool();
  const a = hop(ENCRYPTED);
  const b = hop(ENCRYPTED);
  p.release(nextHop(), a, 1);
  p.release(nextHop(), b, 1);
  t.equal(counts.idle, 2);
  const taken = await p.take(nextHop(), policy('may'));
  t.equal(taken?.connection, b.connection, 'last in, first out');
  t.same(b.fake.calls, ['RSET']);
  t.equal(taken?.facts.reused, true);
  t.equal(taken?.facts.tls, ENCRYPTED, 'its own TLS facts');
  t.equal(taken?.facts.policy.required, 'none', 'its policy outcome judged now');
  t.equal(await p.take(nextHop('may', 'other-key'), policy('may')), undefined, 'keyed by hop');
  t.same([counts.hit, counts.miss, counts.idle], [1, 1, 1]);
});

void t.test('take: a failed RSET closes that session and tries the next', async (t) => {
  const { p, evicted } = pool();
  const good = hop(ENCRYPTED);
  const bad = hop(ENCRYPTED);
  bad.fake.rsetReply = '421 4.3.2 going away';
  p.release(nextHop(), good, 1);
  p.release(nextHop(), bad, 1);
  const taken = await p.take(nextHop(), policy('may'));
  t.equal(taken?.connection, good.connection);
  t.same(bad.fake.calls, ['RSET', 'close'], 'closed, not QUIT: it is out of step');
  t.same(evicted, ['check_failed']);
});

void t.test('release: bounded per hop and in total, longest idle QUIT first', (t) => {
  const { p, evicted, counts } = pool();
  const hops = [hop(ENCRYPTED), hop(ENCRYPTED), hop(ENCRYPTED)];
  for (const h of hops) p.release(nextHop(), h, 1);
  t.same(hops[0]?.fake.calls, ['QUIT'], 'the oldest of the hop went');
  t.same(evicted, ['capacity']);
  const other = [hop(ENCRYPTED), hop(ENCRYPTED)];
  for (const h of other) p.release(nextHop('may', 'k2'), h, 1);
  t.same(hops[1]?.fake.calls, ['QUIT'], 'then the oldest of all');
  t.equal(counts.idle, 3);
  t.end();
});

void t.test('release: transactions and age end a session’s reuse', async (t) => {
  let now = 0;
  const { p, evicted } = pool({ maxTransactions: 3, maxAgeSeconds: 60 }, () => now);
  const worn = hop(ENCRYPTED);
  p.opened(worn.connection);
  p.release(nextHop(), worn, 2);
  const again = await p.take(nextHop(), policy('may'));
  t.ok(again);
  if (again) p.release(nextHop(), again, 1);
  t.same(worn.fake.calls, ['RSET', 'QUIT'], 'the third transaction was its last');
  const old = hop(ENCRYPTED);
  p.opened(old.connection);
  now = 61_000;
  p.release(nextHop(), old, 1);
  t.same(old.fake.calls, ['QUIT']);
  t.same(evicted, ['max_transactions', 'max_age']);
});

void t.test('release: a broken or busy session is closed, never cached', (t) => {
  const { p, counts } = pool();
  const broken = hop(ENCRYPTED);
  broken.fake.usable = false;
  p.release(nextHop(), broken, 1);
  t.same(broken.fake.calls, ['close']);
  t.equal(counts.idle, 0);
  t.end();
});

void t.test('a hop that closes an idle session takes it out of the cache', async (t) => {
  const { p, evicted, counts } = pool();
  const h = hop(ENCRYPTED);
  p.release(nextHop(), h, 1);
  h.fake.emit('end');
  t.equal(counts.idle, 0);
  t.same(evicted, ['hop_closed']);
  t.equal(await p.take(nextHop(), policy('may')), undefined);
});

void t.test('close: every idle session gets QUIT, nothing is kept afterwards', (t) => {
  const { p, evicted } = pool();
  const h = hop(ENCRYPTED);
  p.release(nextHop(), h, 1);
  p.close();
  t.same(h.fake.calls, ['QUIT']);
  const late = hop(ENCRYPTED);
  p.release(nextHop(), late, 1);
  t.same(late.fake.calls, ['QUIT']);
  t.same(evicted, ['shutdown']);
  t.end();
});

void t.test('TLS sessions: bounded, least recently kept first, expiring', (t) => {
  let now = 0;
  const cache = new TlsSessionCache({ maxEntries: 2, maxAgeMs: 1000 }, () => now);
  const v = { verified: false, verifyError: 'DEPTH_ZERO_SELF_SIGNED_CERT' };
  cache.keep('a', Buffer.from('a'), v);
  cache.keep('b', Buffer.from('b'), v);
  cache.keep('c', Buffer.from('c'), v);
  t.equal(cache.size, 2);
  t.equal(cache.offer('a'), undefined, 'the oldest went');
  t.same(cache.offer('c')?.verification, v, 'kept with its verification');
  now = 1001;
  t.equal(cache.offer('c'), undefined, 'too old');
  cache.keep('d', Buffer.from('d'), { verified: true, peerNotAfter: new Date(500).toISOString() });
  t.equal(cache.offer('d'), undefined, 'never past the certificate’s expiry');
  t.end();
});
