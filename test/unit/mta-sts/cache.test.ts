// Shows the MTA-STS policy cache (RFC 8461 §5.1): a policy lives max_age seconds from its fetch, the least recently used goes first when full, and every change is announced.
import t from 'tap';
import { cachedPolicy, PolicyCache } from '../../../src/mta-sts/cache.js';
import type { StsPolicy } from '../../../src/mta-sts/model.js';

const policy = (id: string, maxAgeSeconds = 60): StsPolicy => ({
  mode: 'enforce',
  mx: ['mx.a.test'],
  maxAgeSeconds,
  id,
});

void t.test('a policy expires max_age seconds after its fetch, and is then dropped', (t) => {
  let changes = 0;
  const cache = new PolicyCache(10, () => changes++);
  cache.set('a.test', cachedPolicy(policy('1', 60), 1_000_000));
  t.equal(changes, 1);
  t.strictSame(cache.get('a.test', 1_059_999)?.policy, policy('1', 60));
  t.equal(cache.get('a.test', 1_060_000), undefined, 'expired at fetchedAt + max_age');
  t.equal(cache.size, 0);
  t.equal(changes, 2, 'dropping an expired policy is a change');
  t.equal(cache.get('a.test', 1_000_000), undefined, 'gone for good');
  t.end();
});

void t.test('max_age 0 is a policy used once and never from the cache', (t) => {
  const cache = new PolicyCache(10);
  cache.set('a.test', cachedPolicy(policy('1', 0), 5));
  t.equal(cache.get('a.test', 5), undefined);
  t.end();
});

void t.test('full: the least recently used policy is evicted, a read counts as use', (t) => {
  const cache = new PolicyCache(2);
  cache.set('a.test', cachedPolicy(policy('a'), 0));
  cache.set('b.test', cachedPolicy(policy('b'), 0));
  t.ok(cache.get('a.test', 1), 'a is now more recent than b');
  cache.set('c.test', cachedPolicy(policy('c'), 0));
  t.equal(cache.size, 2);
  t.equal(cache.get('b.test', 1), undefined, 'b evicted');
  t.strictSame(
    cache.entries().map(([d]) => d),
    ['a.test', 'c.test'],
    'least recently used first',
  );
  t.end();
});

void t.test('replacing a policy keeps one entry per domain', (t) => {
  const cache = new PolicyCache(2);
  cache.set('a.test', cachedPolicy(policy('1'), 0));
  cache.set('a.test', cachedPolicy(policy('2'), 0));
  t.equal(cache.size, 1);
  t.equal(cache.get('a.test', 1)?.policy.id, '2');
  t.end();
});

void t.test('a bound below one is refused', (t) => {
  t.throws(() => new PolicyCache(0), RangeError);
  t.throws(() => new PolicyCache(1.5), RangeError);
  t.end();
});
