// The per-next-hop connection cap's queue: slots under the cap, first come first served past it, sessions handed to the first waiter that accepts them, timeouts, waiters that leave, and the reclaim of an idle session.
import t from 'tap';
import { HopSlots, type Grant, type WaitOutcome } from '../../../src/outbound/hop-slots.js';

interface Session {
  readonly name: string;
  readonly verified: boolean;
}

function slots(maxPerHop: number, waitMs = 60_000, yieldIdle?: (key: string) => boolean) {
  const outcomes: WaitOutcome[] = [];
  const gauges = { waiting: 0, open: 0 };
  const s = new HopSlots<Session>(
    { maxPerHop, waitMs },
    {
      observer: {
        waited: (o) => outcomes.push(o),
        waiting: (n) => (gauges.waiting = n),
        open: (n) => (gauges.open = n),
      },
      ...(yieldIdle ? { yieldIdle } : {}),
    },
  );
  t.teardown(() => s.close());
  return { s, outcomes, gauges };
}

const any = (): boolean => true;

/** Whether the promise has settled, without waiting for it. */
async function settled<T>(p: Promise<T>): Promise<boolean> {
  const marker = Symbol('pending');
  return (await Promise.race([p, Promise.resolve(marker)])) !== marker;
}

void t.test('under the cap a slot at once; at the cap the RCPT waits, FIFO per key', async (t) => {
  const { s, outcomes, gauges } = slots(2);
  t.same(await s.acquire('k', any), { kind: 'slot' });
  t.same(await s.acquire('k', any), { kind: 'slot' });
  t.same(await s.acquire('other', any), { kind: 'slot' }, 'another next hop has its own cap');
  t.equal(gauges.open, 3);
  const first = s.acquire('k', any);
  const second = s.acquire('k', any);
  t.equal(gauges.waiting, 2);
  t.equal(await settled(first), false, 'still waiting');
  s.free('k');
  t.same(await first, { kind: 'slot' }, 'the freed slot goes to the first waiter');
  t.equal(await settled(second), false);
  t.equal(s.openCount('k'), 2, 'the slot changed hands, the count did not');
  s.free('k');
  t.same(await second, { kind: 'slot' });
  s.free('k');
  s.free('k');
  t.equal(s.openCount('k'), 0);
  t.same(outcomes, ['served', 'served']);
  t.same(gauges, { waiting: 0, open: 1 });
});

void t.test('a session is offered to the first waiter that accepts it', async (t) => {
  const { s } = slots(1);
  await s.acquire('k', any);
  const strict = s.acquire('k', (h) => h.verified);
  const lax = s.acquire('k', any);
  t.equal(s.offer('k', { name: 'plain', verified: false }), true);
  t.same(await lax, { kind: 'handed', hop: { name: 'plain', verified: false } });
  t.equal(await settled(strict), false, 'the strict waiter keeps waiting');
  t.equal(s.offer('k', { name: 'plain2', verified: false }), false, 'nobody takes it');
  t.equal(s.offer('other', { name: 'x', verified: true }), false, 'nobody waits there');
  s.free('k');
  t.same(await strict, { kind: 'slot' });
});

void t.test('the wait runs out: timed_out, and the waiter is gone from the queue', async (t) => {
  const { s, outcomes, gauges } = slots(1, 20);
  await s.acquire('k', any);
  const grant: Grant<Session> = await s.acquire('k', any);
  t.same(grant, { kind: 'timed_out' });
  t.same(outcomes, ['timed_out']);
  t.equal(gauges.waiting, 0);
  t.equal(s.waiting('k'), false);
  t.equal(s.offer('k', { name: 'late', verified: true }), false);
});

void t.test('a waiter whose client leaves is abandoned; the next one is served', async (t) => {
  const { s, outcomes } = slots(1);
  await s.acquire('k', any);
  const leaving = new AbortController();
  const gone = s.acquire('k', any, leaving.signal);
  const next = s.acquire('k', any);
  leaving.abort();
  t.same(await gone, { kind: 'abandoned' });
  t.equal(s.offer('k', { name: 'a', verified: true }), true);
  t.same(await next, { kind: 'handed', hop: { name: 'a', verified: true } });
  t.same(outcomes, ['abandoned', 'served']);
  const already = new AbortController();
  already.abort();
  t.same(await s.acquire('k', any, already.signal), { kind: 'abandoned' }, 'never queued');
});

void t.test(
  'a new waiter makes room: an idle cached session first, else an idle client',
  async (t) => {
    const yielded: string[] = [];
    let cacheHasOne = true;
    const { s } = slots(1, 60_000, (key) => {
      yielded.push(key);
      return cacheHasOne;
    });
    await s.acquire('k', any);
    const reclaimed: string[] = [];
    const older = { giveUp: () => reclaimed.push('older') };
    const newer = { giveUp: () => reclaimed.push('newer') };
    s.hold('k', older);
    s.hold('k', newer);
    const w1 = s.acquire('k', any);
    t.same(yielded, ['k'], 'the cache was asked first');
    t.same(reclaimed, [], 'and it had one: no client disturbed');
    cacheHasOne = false;
    const w2 = s.acquire('k', any);
    t.same(reclaimed, ['older'], 'then the client idle longest gives its session up');
    s.unhold('k', newer);
    const w3 = s.acquire('k', any);
    t.same(reclaimed, ['older'], 'a client no longer idle is left alone');
    t.equal(s.waiting('k'), true);
    s.close();
    t.same(await Promise.all([w1, w2, w3]), [
      { kind: 'abandoned' },
      { kind: 'abandoned' },
      { kind: 'abandoned' },
    ]);
  },
);
