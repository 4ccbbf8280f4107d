// decidePolicy and its judgements: which checks apply, which are enforced, and what a session at each level fails.
import t from 'tap';
import {
  decidePolicy,
  failedChecks,
  hostRefusedBy,
  requiredLevel,
} from '../../../src/outbound/hop-policy.js';
import type { RouteTls } from '../../../src/routing/route-tls.js';

const route = (level: RouteTls['level'], enforceHistory = false): RouteTls => ({
  level,
  minVersion: 'TLSv1.2',
  mtaSts: true,
  enforceHistory,
});
const sts = (mode: 'enforce' | 'testing' | 'none') => ({
  mode,
  id: '1',
  mx: ['mx.a.test'],
  mxAllowed: (host: string) => host === 'mx.a.test',
});

void t.test('the route level alone: may needs nothing, encrypt and verify their level', (t) => {
  for (const [level, required] of [
    ['none', 'none'],
    ['may', 'none'],
    ['encrypt', 'encrypted'],
    ['verify', 'verified'],
  ] as const) {
    const p = decidePolicy({ route: route(level), requireTls: false, mx: true });
    t.equal(requiredLevel(p), required, level);
    t.same(
      p.checks.map((c) => c.source),
      ['route'],
    );
  }
  t.end();
});

void t.test(
  'MTA-STS enforce refuses other MX hosts and unverified TLS; testing only reports',
  (t) => {
    const enforce = decidePolicy({
      route: route('may'),
      sts: sts('enforce'),
      requireTls: false,
      mx: true,
    });
    t.equal(requiredLevel(enforce), 'verified');
    t.equal(hostRefusedBy(enforce, 'mx.other.test')?.source, 'mta-sts');
    t.equal(hostRefusedBy(enforce, 'mx.a.test'), undefined);
    t.same(
      failedChecks(enforce, 'mx.a.test', 'encrypted').map((c) => [c.source, c.enforced]),
      [['mta-sts', true]],
    );
    t.same(failedChecks(enforce, 'mx.a.test', 'verified'), []);

    const testing = decidePolicy({
      route: route('may'),
      sts: sts('testing'),
      requireTls: false,
      mx: true,
    });
    t.equal(requiredLevel(testing), 'none', 'testing never raises the requirement');
    t.equal(hostRefusedBy(testing, 'mx.other.test'), undefined);
    t.same(
      failedChecks(testing, 'mx.other.test', 'verified').map((c) => [c.source, c.enforced]),
      [['mta-sts', false]],
    );

    const none = decidePolicy({
      route: route('may'),
      sts: sts('none'),
      requireTls: false,
      mx: true,
    });
    t.same(
      none.checks.map((c) => c.source),
      ['route'],
      'mode none adds no check',
    );
    t.end();
  },
);

void t.test('history: report-only by default, the best level required with enforceHistory', (t) => {
  const report = decidePolicy({
    route: route('may'),
    history: 'verified',
    requireTls: false,
    mx: true,
  });
  t.equal(requiredLevel(report), 'none');
  t.same(
    failedChecks(report, 'h', 'encrypted').map((c) => [c.source, c.enforced]),
    [['history', false]],
  );
  const enforced = decidePolicy({
    route: route('may', true),
    history: 'encrypted',
    requireTls: false,
    mx: true,
  });
  t.equal(requiredLevel(enforced), 'encrypted');
  const plain = decidePolicy({
    route: route('may', true),
    history: 'none',
    requireTls: false,
    mx: true,
  });
  t.same(
    plain.checks.map((c) => c.source),
    ['route'],
    'a plaintext history asks nothing',
  );
  t.end();
});

void t.test(
  'REQUIRETLS: verified TLS, and for MX delivery an MTA-STS-secured MX (RFC 8689 §4.2.1)',
  (t) => {
    const routed = decidePolicy({ route: route('may'), requireTls: true, mx: false });
    t.equal(requiredLevel(routed), 'verified');
    t.ok(routed.requireTlsExtension);
    t.equal(
      hostRefusedBy(routed, 'smarthost.test'),
      undefined,
      'a configured route needs no MX check',
    );

    const unsecured = decidePolicy({ route: route('may'), requireTls: true, mx: true });
    t.equal(
      hostRefusedBy(unsecured, 'mx.a.test')?.source,
      'requiretls',
      'no MTA-STS: no MX qualifies',
    );

    const secured = decidePolicy({
      route: route('may'),
      sts: sts('testing'),
      requireTls: true,
      mx: true,
    });
    t.equal(hostRefusedBy(secured, 'mx.a.test'), undefined);
    t.equal(hostRefusedBy(secured, 'mx.other.test')?.source, 'requiretls');
    t.end();
  },
);
