// Failure budgets: counted per key within a window, cleared by success, bounded in memory; the delay doubles and is capped.
import t from 'tap';
import { failureDelay, FailureBudget } from '../../../src/auth/failure-budget.js';

void t.test('exhaustion, window and success', (t) => {
  let now = 0;
  const b = new FailureBudget({ maxFailures: 3, windowMs: 1000 }, 100, () => now);
  t.equal(b.fail('1.2.3.4'), 1);
  t.equal(b.fail('1.2.3.4'), 2);
  t.notOk(b.exhausted('1.2.3.4'));
  b.fail('1.2.3.4');
  t.ok(b.exhausted('1.2.3.4'));
  t.notOk(b.exhausted('5.6.7.8'), 'keys are separate');
  now = 1001;
  t.notOk(b.exhausted('1.2.3.4'), 'the window passed');
  t.equal(b.fail('1.2.3.4'), 1);
  b.succeed('1.2.3.4');
  t.equal(b.failures('1.2.3.4'), 0);
  t.end();
});

void t.test('bounded: the least recently failing key is forgotten first', (t) => {
  const b = new FailureBudget({ maxFailures: 3, windowMs: 60_000 }, 2);
  b.fail('a');
  b.fail('b');
  b.fail('a');
  b.fail('c');
  t.equal(b.size, 2);
  t.equal(b.failures('b'), 0, 'b was evicted');
  t.equal(b.failures('a'), 2);
  t.end();
});

void t.test('the delay doubles and is capped', (t) => {
  const p = { baseMs: 500, maxMs: 3000 };
  t.same(
    [1, 2, 3, 4, 5].map((n) => failureDelay(p, n)),
    [500, 1000, 2000, 3000, 3000],
  );
  t.end();
});
