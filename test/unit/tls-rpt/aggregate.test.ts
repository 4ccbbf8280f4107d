// Shows how one day's sessions are counted per policy domain and policy, failures grouped into RFC 8460 §4.4 failure-details rows, within bounds.
import t from 'tap';
import { DayAggregate, normalizeDomain } from '../../../src/tls-rpt/aggregate.js';
import { DAY_EVENTS, expired, ok, STS_POLICY } from './events.js';

void t.test('sessions are counted per domain and policy, alike failures in one row', (t) => {
  const day = new DayAggregate();
  for (const e of DAY_EVENTS) t.equal(day.add(e), 'counted');
  t.strictSame(day.snapshot(), [
    {
      policyDomain: 'a.test',
      policies: [
        {
          policy: STS_POLICY,
          successful: 3,
          failed: 3,
          failureDetails: [
            {
              resultType: 'certificate-expired',
              sendingMtaIp: '192.0.2.1',
              receivingMxHostname: 'mx1.mail.a.test',
              receivingIp: '203.0.113.5',
              failureReasonCode: 'CERT_HAS_EXPIRED',
              count: 2,
            },
            {
              resultType: 'starttls-not-supported',
              sendingMtaIp: '192.0.2.1',
              receivingMxHostname: 'mx2.mail.a.test',
              receivingIp: '203.0.113.6',
              count: 1,
            },
          ],
          detailsDropped: 0,
        },
      ],
    },
    {
      policyDomain: 'b.test',
      policies: [
        {
          policy: { type: 'no-policy-found' },
          successful: 1,
          failed: 0,
          failureDetails: [],
          detailsDropped: 0,
        },
      ],
    },
  ]);
  t.end();
});

void t.test('a policy that changed during the day is a second policy of the domain', (t) => {
  const day = new DayAggregate();
  day.add(ok('a.test'));
  day.add(ok('a.test', { ...STS_POLICY, string: ['version: STSv1', 'mode: testing'] }));
  day.add(ok('a.test'));
  const [a] = day.snapshot();
  t.strictSame(
    a?.policies.map((p) => [p.policy.string?.[1], p.successful]),
    [
      ['mode: enforce', 2],
      ['mode: testing', 1],
    ],
  );
  t.end();
});

void t.test('a no-policy-found session carries no policy string or mx patterns', (t) => {
  const day = new DayAggregate();
  day.add(ok('c.test', { type: 'no-policy-found', string: ['x'], mxHost: ['y'] }));
  t.strictSame(day.snapshot()[0]?.policies[0]?.policy, { type: 'no-policy-found' });
  t.end();
});

void t.test('domains are compared and reported lower case, A-labels, no trailing dot', (t) => {
  t.equal(normalizeDomain('Example.ORG.'), 'example.org');
  t.equal(normalizeDomain('bücher.example'), 'xn--bcher-kva.example');
  const day = new DayAggregate();
  day.add(ok('B.Test.'));
  day.add(ok('b.test'));
  t.strictSame(
    day.snapshot().map((d) => [d.policyDomain, d.policies[0]?.successful]),
    [['b.test', 2]],
  );
  t.end();
});

void t.test('an address literal or a name unfit for a file name is not counted', (t) => {
  const day = new DayAggregate();
  t.equal(day.add(ok('[192.0.2.1]')), 'invalid-domain');
  t.equal(day.add(ok('../../etc')), 'invalid-domain');
  t.equal(day.add(ok('a!b.test')), 'invalid-domain');
  t.strictSame(day.snapshot(), []);
  t.end();
});

void t.test('the bounds: domains, policies per domain, detail rows per policy', (t) => {
  const day = new DayAggregate({ maxDomains: 2, maxPoliciesPerDomain: 1, maxDetailsPerPolicy: 1 });
  t.equal(day.add(ok('a.test')), 'counted');
  t.equal(day.add(ok('b.test')), 'counted');
  t.equal(day.add(ok('c.test')), 'too-many-domains');
  t.equal(day.add(ok('a.test', { type: 'no-policy-found' })), 'too-many-policies');
  t.equal(day.add(expired), 'counted');
  t.equal(day.add(expired), 'counted');
  t.equal(
    day.add({ ...expired, result: { ok: false, resultType: 'validation-failure' } }),
    'counted',
  );
  const a = day.snapshot()[0]?.policies[0];
  t.equal(a?.failed, 3, 'the summary counts every failure');
  t.equal(a?.failureDetails.length, 1);
  t.equal(a?.failureDetails[0]?.count, 2);
  t.equal(a?.detailsDropped, 1, 'the failure over the row cap is counted as dropped');
  t.end();
});

void t.test('a snapshot read back gives the same aggregate, and counting goes on', (t) => {
  const day = new DayAggregate();
  for (const e of DAY_EVENTS) day.add(e);
  const again = DayAggregate.from(day.snapshot());
  t.strictSame(again.snapshot(), day.snapshot());
  again.add(expired);
  t.equal(again.snapshot()[0]?.policies[0]?.failureDetails[0]?.count, 3);
  t.end();
});
