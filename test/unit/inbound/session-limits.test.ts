// Session limits: a global ceiling and one per address, slots given back on release.
import t from 'tap';
import { SessionLimits } from '../../../src/inbound/session-limits.js';

void t.test('per address first, then global', (t) => {
  const l = new SessionLimits(3, 2);
  t.equal(l.admit('a'), 'admitted');
  t.equal(l.admit('a'), 'admitted');
  t.equal(l.admit('a'), 'address_limit');
  t.equal(l.admit('b'), 'admitted');
  t.equal(l.admit('c'), 'global_limit');
  l.release('a');
  t.equal(l.admit('c'), 'admitted', 'a released slot is free again');
  l.release('zzz');
  t.equal(l.total, 3, 'releasing an unknown address changes nothing');
  t.end();
});
