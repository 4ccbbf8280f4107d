// The connection cache under the per-next-hop cap: a released session goes to the first waiter its policy suits (after RSET answered 250) instead of the cache; one no waiter suits is QUIT so its slot frees; a new waiter takes an idle cached session.
import { EventEmitter } from 'node:events';
import t from 'tap';
import {
  acceptable,
  ConnectionPool,
  type EvictionReason,
} from '../../../src/outbound/connection-pool.js';
import { decidePolicy } from '../../../src/outbound/hop-policy.js';
import { HopSlots } from '../../../src/outbound/hop-slots.js';
import type { OpenedHop } from '../../../src/outbound/open-hop.js';
import { PLAINTEXT, type TlsFacts } from '../../../src/outbound/tls-facts.js';
import type { NextHop } from '../../../src/routing/next-hop.js';
import { parseReply } from '../../../src/smtp/reply.js';
import { ENCRYPTED, openedHop } from '../../support/opened-hop.js';

const NEXT_HOP: NextHop = {
  domain: 'dest.test',
  source: 'route',
  hosts: [{ name: 'hop.test', port: 25, preference: null }],
  tls: { level: 'may', minVersion: 'TLSv1.2', mtaSts: false, enforceHistory: false },
  key: 'route:0:hop.test:25',
};
const KEY = NEXT_HOP.key;

/** What the cache looks at and calls; QUIT and close end it, as HopConnection's 'end' does. */
class FakeConnection extends EventEmitter {
  usable = true;
  busy = false;
  destroyed = false;
  calls: string[] = [];
  rsetReply = '250 2.0.0 Ok';
  /** Since the hop last answered: long ago unless a test says otherwise. */
  quietMs = Infinity;
  get extensions(): ReadonlyMap<string, string> {
    return new Map();
  }
  command(line: string): Promise<unknown> {
    this.calls.push(line);
    return Promise.resolve(parseReply(this.rsetReply));
  }
  end(): void {
    this.calls.push('QUIT');
    this.#gone();
  }
  close(): void {
    this.calls.push('close');
    this.#gone();
  }
  #gone(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.usable = false;
    this.emit('end');
  }
}

function hop(tls: TlsFacts = ENCRYPTED): OpenedHop & { fake: FakeConnection } {
  return openedHop(new FakeConnection(), tls);
}

const policy = (level: 'may' | 'encrypt') =>
  decidePolicy({
    route: { level, minVersion: 'TLSv1.2', mtaSts: false, enforceHistory: false },
    requireTls: false,
    mx: false,
  });

/** A cache and a cap of 1 wired as in app.ts; the one slot is taken by `held`, counted until it ends. */
function setup(enabled = true) {
  const evicted: EvictionReason[] = [];
  const pool: ConnectionPool = new ConnectionPool(
    {
      enabled,
      maxIdlePerHop: 4,
      maxIdle: 8,
      idleSeconds: 30,
      maxAgeSeconds: 300,
      maxTransactions: 10,
    },
    {
      checkMs: 1000,
      observer: { hit() {}, miss() {}, evicted: (r) => evicted.push(r), idle() {} },
    },
  );
  const slots = new HopSlots<OpenedHop>(
    { maxPerHop: 1, waitMs: 60_000 },
    { yieldIdle: (key) => pool.yieldIdle(key) },
  );
  pool.attach(slots);
  t.teardown(() => {
    slots.close();
    pool.close();
  });
  const counted = (h: OpenedHop): void => {
    h.connection.once('end', () => slots.free(KEY));
  };
  return { pool, slots, evicted, counted };
}

const waiterFor = (level: 'may' | 'encrypt') => (h: OpenedHop) =>
  acceptable(h, NEXT_HOP, policy(level));

void t.test('a released session goes to the waiter after RSET, not into the cache', async (t) => {
  const { pool, slots, counted } = setup();
  t.same(await slots.acquire(KEY, waiterFor('may')), { kind: 'slot' });
  const held = hop();
  counted(held);
  const waiter = slots.acquire(KEY, waiterFor('may'));
  pool.release(NEXT_HOP, held, 1);
  const grant = await waiter;
  t.same(grant, { kind: 'handed', hop: held });
  t.same(held.fake.calls, ['RSET'], 'checked, not closed');
  t.equal(pool.idleCount, 0, 'never cached');
  t.equal(slots.openCount(KEY), 1, 'still the one connection');
});

void t.test(
  'a session released the moment its transaction completed goes to the waiter without RSET',
  async (t) => {
    const { pool, slots, counted } = setup();
    await slots.acquire(KEY, waiterFor('may'));
    const held = hop();
    held.fake.quietMs = 3;
    counted(held);
    const waiter = slots.acquire(KEY, waiterFor('may'));
    pool.release(NEXT_HOP, held, 1);
    t.same(await waiter, { kind: 'handed', hop: held });
    t.same(held.fake.calls, [], 'no round trip: its last reply was a moment ago');
    held.fake.quietMs = 1500;
    const second = slots.acquire(KEY, waiterFor('may'));
    pool.release(NEXT_HOP, held, 1);
    t.same(await second, { kind: 'handed', hop: held });
    t.same(held.fake.calls, ['RSET'], 'quiet for over a second: checked again');
  },
);

void t.test('a session that fails RSET is closed; its slot goes to the waiter', async (t) => {
  const { pool, slots, evicted, counted } = setup();
  await slots.acquire(KEY, waiterFor('may'));
  const held = hop();
  held.fake.rsetReply = '421 4.4.2 bye';
  counted(held);
  const waiter = slots.acquire(KEY, waiterFor('may'));
  pool.release(NEXT_HOP, held, 1);
  t.same(await waiter, { kind: 'slot' });
  t.same(held.fake.calls, ['RSET', 'close']);
  t.same(evicted, ['check_failed']);
});

void t.test(
  'a session no waiter accepts is QUIT, and its slot goes to the first waiter',
  async (t) => {
    const { pool, slots, evicted, counted } = setup();
    await slots.acquire(KEY, waiterFor('may'));
    const plaintext = hop(PLAINTEXT);
    counted(plaintext);
    const waiter = slots.acquire(KEY, waiterFor('encrypt'));
    pool.release(NEXT_HOP, plaintext, 1);
    t.same(await waiter, { kind: 'slot' });
    t.same(plaintext.fake.calls, ['RSET', 'QUIT']);
    t.same(evicted, ['capacity']);
  },
);

void t.test('a new waiter takes the idle cached session of its next hop', async (t) => {
  const { pool, slots, counted } = setup();
  await slots.acquire(KEY, waiterFor('may'));
  const idle = hop();
  counted(idle);
  pool.release(NEXT_HOP, idle, 1);
  t.equal(pool.idleCount, 1, 'no one waited: cached');
  const grant = await slots.acquire(KEY, waiterFor('may'));
  t.same(grant, { kind: 'handed', hop: idle });
  t.equal(pool.idleCount, 0);
  t.same(idle.fake.calls, ['RSET']);
});

void t.test('with the cache disabled nothing is handed over: QUIT frees the slot', async (t) => {
  const { pool, slots, counted } = setup(false);
  await slots.acquire(KEY, waiterFor('may'));
  const held = hop();
  counted(held);
  const waiter = slots.acquire(KEY, waiterFor('may'));
  pool.release(NEXT_HOP, held, 1);
  t.same(await waiter, { kind: 'slot' });
  t.same(held.fake.calls, ['QUIT']);
});
