// The TLS-RPT reporter after a UTC day ends, over real DNS (dnsmasq publishing _smtp._tls TXT records) and a real HTTPS server with a per-run CA: each domain's report is written, POSTed gzip with Content-Type application/tlsrpt+gzip to its https: rua only, the certificate verified, failures retried on a backoff schedule and then given up.
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { FileTlsRptStore } from '../../src/tls-rpt/file-store.js';
import type { TlsRptEvent } from '../../src/tls-rpt/model.js';
import { TlsRptReporter } from '../../src/tls-rpt/reporter.js';
import { hasDnsmasq, startDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { createTestCa } from '../support/pki.js';

interface Received {
  readonly method: string;
  readonly host: string;
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

const expired: TlsRptEvent = {
  policyDomain: 'a.test',
  policy: {
    type: 'sts',
    string: ['version: STSv1', 'mode: enforce', 'mx: mx.a.test', 'max_age: 86400'],
    mxHost: ['mx.a.test'],
  },
  result: {
    ok: false,
    resultType: 'certificate-expired',
    sendingMtaIp: '192.0.2.1',
    receivingMxHostname: 'mx.a.test',
    receivingIp: '203.0.113.5',
  },
};
const ok = (policyDomain: string): TlsRptEvent => ({
  policyDomain,
  policy: { type: 'no-policy-found' },
  result: { ok: true },
});

if (!hasDnsmasq()) {
  t.plan(0, 'needs Debian package dnsmasq-base');
} else {
  let dns: TestDnsServer;
  let server: Server;
  let port: number;
  let ca: string;
  const received: Received[] = [];
  const flakyAnswers = [503, 201];

  t.before(async () => {
    const testCa = await createTestCa();
    ca = testCa.cert;
    const good = await testCa.issue(['reports.a.test', 'reports.c.test']);
    // reports.d.test presents a certificate for another name: the POST must not happen.
    const wrong = createSecureContext(await testCa.issue(['elsewhere.test']));
    server = createServer(
      {
        ...good,
        SNICallback: (name, cb) => cb(null, name === 'reports.d.test' ? wrong : undefined),
      },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const path = req.url ?? '';
          received.push({
            method: req.method ?? '',
            host: req.headers.host ?? '',
            path,
            contentType: req.headers['content-type'] ?? '',
            body: Buffer.concat(chunks),
          });
          res.writeHead(path === '/flaky' ? (flakyAnswers.shift() ?? 500) : 200);
          res.end();
        });
      },
    );
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    dns = await startDnsServer({
      hosts: ['reports.a.test', 'reports.c.test', 'reports.d.test'].map((name) => ({
        name,
        addresses: ['127.0.0.1'],
      })),
      txt: [
        {
          name: '_smtp._tls.a.test',
          strings: [
            `v=TLSRPTv1; rua=mailto:tlsrpt@a.test,https://reports.a.test:${port}/v1/tlsrpt`,
          ],
        },
        {
          name: '_smtp._tls.c.test',
          strings: [`v=TLSRPTv1; rua=https://reports.c.test:${port}/flaky`],
        },
        {
          name: '_smtp._tls.d.test',
          strings: [`v=TLSRPTv1; rua=https://reports.d.test:${port}/d`],
        },
      ],
    });
  });
  t.teardown(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await dns?.close();
  });

  void t.test('reports are written, POSTed to https: rua, retried with backoff', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'tls-rpt-submit-'));
    const clock = { now: new Date('2024-05-01T09:00:00Z') };
    const now = () => clock.now;
    const store = await FileTlsRptStore.open({
      directory: join(dir, 'state'),
      flushIntervalMs: 0,
      now,
    });
    const reports = join(dir, 'reports');
    const warnings: Array<{ policyDomain?: string; error?: string }> = [];
    const reporter = new TlsRptReporter({
      store,
      reportDirectory: reports,
      identity: { organizationName: 'Relay Org', contactInfo: 'tls-reports@relay.test' },
      submit: true,
      resolver: dns.resolver,
      ca,
      timeoutMs: 5000,
      checkIntervalMs: 0,
      now,
      logger: {
        info: () => undefined,
        error: () => undefined,
        warn: (o: object) => warnings.push(o),
      },
    });
    t.teardown(async () => {
      await reporter.close();
      await store.close();
    });
    store.record(ok('a.test'), clock.now);
    store.record(expired, clock.now);
    for (const d of ['b.test', 'c.test', 'd.test']) store.record(ok(d), clock.now);

    t.strictSame(
      await reporter.tick(),
      { written: [], submitted: 0, failed: 0 },
      'day in progress',
    );
    t.equal(received.length, 0);

    clock.now = new Date('2024-05-02T00:00:05Z');
    const first = await reporter.tick();
    const file = (d: string) => `relay.test!${d}!1714521600!1714607999.json.gz`;
    t.strictSame(first, {
      written: ['a.test', 'b.test', 'c.test', 'd.test'].map(file),
      submitted: 1,
      failed: 2,
    });
    t.strictSame(
      (await readdir(reports)).sort(),
      ['a.test', 'b.test', 'c.test', 'd.test'].map(file),
    );
    t.strictSame(
      received.map((r) => [r.method, r.host, r.path, r.contentType]),
      [
        ['POST', `reports.a.test:${port}`, '/v1/tlsrpt', 'application/tlsrpt+gzip'],
        ['POST', `reports.c.test:${port}`, '/flaky', 'application/tlsrpt+gzip'],
      ],
      'a.test to its https: rua only (not mailto:); c.test answered 503; d.test never reached',
    );
    const posted = received[0]?.body ?? Buffer.alloc(0);
    t.strictSame(posted, await readFile(join(reports, file('a.test'))), 'the file, byte for byte');
    t.equal(
      gunzipSync(posted).toString('utf8'),
      JSON.stringify({
        'organization-name': 'Relay Org',
        'date-range': {
          'start-datetime': '2024-05-01T00:00:00Z',
          'end-datetime': '2024-05-01T23:59:59Z',
        },
        'contact-info': 'tls-reports@relay.test',
        'report-id': '2024-05-01T00:00:00Z_a.test',
        policies: [
          {
            policy: { 'policy-type': 'no-policy-found', 'policy-domain': 'a.test' },
            summary: { 'total-successful-session-count': 1, 'total-failure-session-count': 0 },
            'failure-details': [],
          },
          {
            policy: {
              'policy-type': 'sts',
              'policy-string': [
                'version: STSv1',
                'mode: enforce',
                'mx: mx.a.test',
                'max_age: 86400',
              ],
              'policy-domain': 'a.test',
              'mx-host': ['mx.a.test'],
            },
            summary: { 'total-successful-session-count': 0, 'total-failure-session-count': 1 },
            'failure-details': [
              {
                'result-type': 'certificate-expired',
                'sending-mta-ip': '192.0.2.1',
                'receiving-mx-hostname': 'mx.a.test',
                'receiving-ip': '203.0.113.5',
                'failed-session-count': 1,
              },
            ],
          },
        ],
      }),
    );
    t.equal(reporter.pendingSubmissions, 2, 'c.test and d.test wait for a retry');

    // No retry storm: nothing is due again before the first backoff delay.
    clock.now = new Date(clock.now.getTime() + 14 * MINUTE);
    t.strictSame(await reporter.tick(), { written: [], submitted: 0, failed: 0 });
    t.equal(received.length, 2);

    clock.now = new Date(clock.now.getTime() + MINUTE);
    t.strictSame(await reporter.tick(), { written: [], submitted: 1, failed: 1 }, '15 min later');
    t.strictSame(
      received.slice(2).map((r) => r.path),
      ['/flaky'],
      'c.test retried and answered 201',
    );
    t.strictSame(received[2]?.body, await readFile(join(reports, file('c.test'))));
    t.equal(reporter.pendingSubmissions, 1, 'only d.test left');

    // d.test's certificate stays wrong: retries after 1 h, 4 h and 12 h, then given up (§5.4).
    for (const wait of [HOUR, 4 * HOUR, 12 * HOUR]) {
      clock.now = new Date(clock.now.getTime() + wait - 1000);
      t.strictSame((await reporter.tick()).failed, 0, 'not before its time');
      clock.now = new Date(clock.now.getTime() + 1000);
      t.strictSame((await reporter.tick()).failed, 1, 'retried');
    }
    t.equal(reporter.pendingSubmissions, 0, 'given up after 5 attempts within 24 h');
    clock.now = new Date(clock.now.getTime() + 24 * HOUR);
    t.strictSame(await reporter.tick(), { written: [], submitted: 0, failed: 0 });
    t.equal(received.length, 3, 'the server never saw a request for d.test');
    t.strictSame(flakyAnswers, []);
    t.strictSame(
      [
        ...new Set(
          warnings
            .filter((w) => w.policyDomain === 'd.test' && w.error !== undefined)
            .map((w) => w.error),
        ),
      ],
      ['ERR_TLS_CERT_ALTNAME_INVALID'],
      'each d.test attempt failed on the certificate name',
    );
  });
}
