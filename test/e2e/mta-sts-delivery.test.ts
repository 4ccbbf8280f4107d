// MTA-STS in delivery (RFC 8461 §5) over real DNS and a real HTTPS policy host: an enforce domain is delivered only to a policy MX over verified TLS, an unverified policy MX gets 451 4.7.5, a testing policy delivers and counts what would have failed, and each session lands in TLS-RPT.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { readDayFile } from '../../src/tls-rpt/day-file.js';
import { utcDay } from '../../src/tls-rpt/day.js';
import { hasDnsmasq, startDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { startNextHop, type TestNextHop } from '../support/next-hop.js';
import { createTestCa, generateSelfSigned, type TestCa } from '../support/pki.js';
import { startHttps, type HttpsAnswer, type TestHttps } from '../support/probe-https.js';
import { startTestRelay, type TestRelay } from '../support/relay.js';
import { settle, tlsClient, transact } from '../support/scenario.js';

const PATH = '/.well-known/mta-sts.txt';
const policy = (mode: string, mx: string) => ({
  status: 200,
  contentType: 'text/plain',
  body: `version: STSv1\r\nmode: ${mode}\r\nmx: ${mx}\r\nmax_age: 86400\r\n`,
});

if (!hasDnsmasq()) {
  t.plan(0, 'needs Debian package dnsmasq-base');
} else {
  let ca: TestCa;
  let dns: TestDnsServer;
  let https: TestHttps;
  /** Every MX listens on the same port at its own loopback address (the relay's mxPort). */
  let outside: TestNextHop; // 127.0.0.2: not in any enforce policy
  let inside: TestNextHop; // 127.0.0.3: the enforce policy's MX, verified certificate
  let unverified: TestNextHop; // 127.0.0.4: in its policy, self-signed certificate
  /** Read by the policy host at each request: a test publishes a policy by adding it here. */
  const answers: Record<string, HttpsAnswer> = {
    [`mta-sts.enforce.test ${PATH}`]: policy('enforce', 'mx2.enforce.test'),
    [`mta-sts.testing.test ${PATH}`]: policy('testing', 'mx9.testing.test'),
    [`mta-sts.badcert.test ${PATH}`]: policy('enforce', 'mx.badcert.test'),
  };

  t.before(async () => {
    ca = await createTestCa();
    inside = await startNextHop({
      tls: { kind: 'tls', pair: await ca.issue(['mx2.enforce.test']) },
      listen: { host: '127.0.0.3', port: 0 },
    });
    const port = inside.port;
    outside = await startNextHop({
      tls: { kind: 'tls', pair: await ca.issue(['mx1.enforce.test', 'mx1.testing.test']) },
      listen: { host: '127.0.0.2', port },
    });
    unverified = await startNextHop({
      tls: { kind: 'tls', pair: await generateSelfSigned(['mx.badcert.test']) },
      listen: { host: '127.0.0.4', port },
    });
    dns = await startDnsServer({
      mx: [
        { domain: 'enforce.test', host: 'mx1.enforce.test', preference: 10 },
        { domain: 'enforce.test', host: 'mx2.enforce.test', preference: 20 },
        { domain: 'testing.test', host: 'mx1.testing.test', preference: 10 },
        { domain: 'badcert.test', host: 'mx.badcert.test', preference: 10 },
        { domain: 'late.test', host: 'mx1.late.test', preference: 10 },
      ],
      hosts: [
        { name: 'mx1.enforce.test', addresses: ['127.0.0.2'] },
        { name: 'mx2.enforce.test', addresses: ['127.0.0.3'] },
        { name: 'mx1.testing.test', addresses: ['127.0.0.2'] },
        { name: 'mx.badcert.test', addresses: ['127.0.0.4'] },
        { name: 'mx1.late.test', addresses: ['127.0.0.2'] },
        ...['enforce.test', 'testing.test', 'badcert.test', 'late.test'].map((d) => ({
          name: `mta-sts.${d}`,
          addresses: ['127.0.0.1'],
        })),
      ],
      txt: ['enforce.test', 'testing.test', 'badcert.test', 'late.test'].map((d) => ({
        name: `_mta-sts.${d}`,
        strings: ['v=STSv1; id=20261128'],
      })),
      localDomains: ['test'],
    });
    https = await startHttps(
      await ca.issue([
        'mta-sts.enforce.test',
        'mta-sts.testing.test',
        'mta-sts.badcert.test',
        'mta-sts.late.test',
      ]),
      answers,
    );
  });
  t.teardown(async () => {
    await Promise.all([outside?.close(), inside?.close(), unverified?.close()]);
    await https?.close();
    await dns?.close();
  });

  async function relayFor(t: Test, stateDir?: string): Promise<TestRelay> {
    const relay = await startTestRelay(
      {
        routes: [{ domains: ['*'], nextHop: 'mx' }],
        ...(stateDir !== undefined
          ? { stateDir, outbound: { tlsRpt: { enabled: true, organization: 'Relay Test' } } }
          : {}),
      },
      {
        resolver: dns.resolver,
        mxPort: inside.port,
        outboundCa: ca.cert,
        mtaStsHttpsPort: https.port,
      },
    );
    t.teardown(() => relay.close());
    return relay;
  }

  async function deliver(t: Test, relay: TestRelay, to: string) {
    const c = await tlsClient(t, relay.port);
    const r = await transact(c, 'a@origin.test', [to], 'Subject: sts\r\n\r\nbody');
    t.equal(await c.send('QUIT'), '221 Bye');
    await settle();
    return r;
  }

  void t.test(
    'enforce: the MX outside the policy is skipped, the policy MX gets the mail over verified TLS',
    async (t) => {
      const stateDir = await mkdtemp(join(tmpdir(), 'sts-state-'));
      t.teardown(() => rm(stateDir, { recursive: true, force: true }));
      const relay = await relayFor(t, stateDir);
      const before = { outside: outside.connections, inside: inside.messages.length };
      t.same(await deliver(t, relay, 'alice@enforce.test'), {
        mail: '250 Accepted',
        rcpts: ['250 Accepted'],
        data: '354 End data with <CR><LF>.<CR><LF>',
        final: `250 2.0.0 Ok: queued as Q${before.inside + 1}`,
      });
      t.equal(
        outside.connections,
        before.outside,
        'the preferred MX, not in the policy, was never contacted',
      );
      t.same(inside.messages.at(-1)?.rcptTo, ['alice@enforce.test']);
      t.match(relay.transactions()[0], {
        nextHop: {
          domain: 'enforce.test',
          source: 'mx',
          host: 'mx2.enforce.test',
          mxPreference: 20,
        },
        failedAttempts: [
          {
            host: 'mx1.enforce.test',
            address: null,
            error: 'not an MX host allowed by the mta-sts policy',
            policy: 'mta-sts',
          },
        ],
        outboundTls: { starttls: 'encrypted', verified: true },
        outboundPolicy: {
          required: 'verified',
          mtaSts: { mode: 'enforce', id: '20261128' },
          checks: [
            { source: 'route', passed: true },
            { source: 'mta-sts', minimum: 'verified', enforced: true, passed: true },
          ],
        },
      });
      t.match(
        await relay.metricsText(),
        /starttls_relay_outbound_policy_failures_total\{policy="mta-sts",enforced="true"\} 1/,
      );
      await relay.close();
      // TLS-RPT (RFC 8460 §4.4): one failure (the MX outside the policy), one success.
      const day = await readDayFile(join(stateDir, 'tls-rpt'), utcDay(new Date()));
      t.match(day?.domains, [
        {
          policyDomain: 'enforce.test',
          policies: [
            {
              policy: { type: 'sts', mxHost: ['mx2.enforce.test'] },
              successful: 1,
              failed: 1,
              failureDetails: [
                {
                  resultType: 'validation-failure',
                  receivingMxHostname: 'mx1.enforce.test',
                  count: 1,
                },
              ],
            },
          ],
        },
      ]);
    },
  );

  void t.test(
    'enforce: a policy MX whose certificate does not verify gets 451 4.7.5',
    async (t) => {
      const relay = await relayFor(t);
      t.same(await deliver(t, relay, 'bob@badcert.test'), {
        mail: '250 Accepted',
        rcpts: ['451 4.7.5 TLS policy not met by any next hop, try again later'],
      });
      t.same(unverified.mailFroms, [], 'no MAIL over the unverified session');
      t.equal(unverified.connections, 1, 'the MX was tried once');
      const metrics = await relay.metricsText();
      t.match(metrics, /starttls_relay_policy_refused_recipients_total\{policy="mta-sts"\} 1/);
      t.match(
        metrics,
        /starttls_relay_outbound_tls_failures_total\{result_type="certificate-not-trusted"\} 1/,
      );
    },
  );

  void t.test(
    'testing: delivered to the MX outside the policy, counted as report-only',
    async (t) => {
      const relay = await relayFor(t);
      const before = outside.messages.length;
      const r = await deliver(t, relay, 'carol@testing.test');
      t.equal(r.final, `250 2.0.0 Ok: queued as Q${before + 1}`);
      t.same(outside.messages.at(-1)?.rcptTo, ['carol@testing.test']);
      t.match(relay.transactions()[0], {
        outboundPolicy: {
          required: 'none',
          mtaSts: { mode: 'testing' },
          checks: [
            { source: 'route', passed: true },
            { source: 'mta-sts', enforced: false, passed: false },
          ],
        },
      });
      t.match(
        await relay.metricsText(),
        /starttls_relay_outbound_policy_failures_total\{policy="mta-sts",enforced="false"\} 1/,
      );
    },
  );

  void t.test(
    "a policy that appears mid-session applies to the client's next transaction",
    async (t) => {
      const relay = await relayFor(t);
      const c = await tlsClient(t, relay.port);
      const before = outside.mailFroms.length;
      // The policy host has nothing yet (404): delivered as a domain without MTA-STS.
      const first = await transact(c, 'a@origin.test', ['x@late.test'], 'Subject: 1\r\n\r\none');
      t.match(first.final, /^250 2\.0\.0 Ok: queued as Q\d+$/);
      t.equal(outside.mailFroms.length, before + 1);
      // Now the domain enforces a policy whose MX is not the one this client session holds open.
      answers[`mta-sts.late.test ${PATH}`] = policy('enforce', 'mx9.late.test');
      t.same(await transact(c, 'a@origin.test', ['y@late.test'], 'Subject: 2\r\n\r\ntwo'), {
        mail: '250 Accepted',
        rcpts: ['451 4.7.5 TLS policy not met by any next hop, try again later'],
      });
      t.equal(outside.mailFroms.length, before + 1, 'the open session was not used again');
    },
  );
}
