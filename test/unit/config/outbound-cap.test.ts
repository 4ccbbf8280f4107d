// outbound.maxConnectionsPerHop and outbound.connectionWaitSeconds: defaults, and every bad value reported by path.
import t from 'tap';
import { validateConfig } from '../../../src/config/load.js';

void t.test('the cap and the wait default to 50 connections and 30 seconds', (t) => {
  const r = validateConfig({}, '/tmp');
  if (!r.ok) throw new Error(r.errors.join('; '));
  t.equal(r.config.outbound.maxConnectionsPerHop, 50);
  t.equal(r.config.outbound.connectionWaitSeconds, 30);
  const set = validateConfig(
    { outbound: { maxConnectionsPerHop: 2, connectionWaitSeconds: 1 } },
    '/tmp',
  );
  t.match(set, {
    ok: true,
    config: { outbound: { maxConnectionsPerHop: 2, connectionWaitSeconds: 1 } },
  });
  t.end();
});

void t.test('values out of range are errors naming the key', (t) => {
  const r = validateConfig(
    { outbound: { maxConnectionsPerHop: 0, connectionWaitSeconds: 241 } },
    '/tmp',
  );
  t.equal(r.ok, false);
  if (r.ok) return;
  t.match(
    r.errors.join('\n'),
    /outbound\.maxConnectionsPerHop: Too small: expected number to be >=1/,
  );
  t.match(
    r.errors.join('\n'),
    /outbound\.connectionWaitSeconds: Too big: expected number to be <=240/,
  );
  const fractional = validateConfig(
    { outbound: { maxConnectionsPerHop: 1.5, connectionWaitSeconds: 'soon' } },
    '/tmp',
  );
  t.equal(fractional.ok, false);
  if (fractional.ok) return;
  t.equal(fractional.errors.length, 2, 'both reported');
  t.end();
});
