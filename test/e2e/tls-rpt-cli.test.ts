// The tls-rpt command of the real CLI prints the day a relay's TLS-RPT store wrote: a table by default, the RFC 8460 reports with --json; usage errors exit 2.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../support/cli.js';
import { FileTlsRptStore } from '../../src/tls-rpt/file-store.js';
import type { TlsRptEvent, TlsRptPolicy } from '../../src/tls-rpt/model.js';

const STS: TlsRptPolicy = {
  type: 'sts',
  string: ['version: STSv1', 'mode: enforce', 'mx: *.mail.a.test', 'max_age: 86400'],
  mxHost: ['*.mail.a.test'],
};
const expired: TlsRptEvent = {
  policyDomain: 'a.test',
  policy: STS,
  result: {
    ok: false,
    resultType: 'certificate-expired',
    sendingMtaIp: '192.0.2.1',
    receivingMxHostname: 'mx1.mail.a.test',
    receivingIp: '203.0.113.5',
    failureReasonCode: 'CERT_HAS_EXPIRED',
  },
};

let config: string;
let state: string;

t.before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tls-rpt-cli-'));
  state = join(dir, 'state');
  config = join(dir, 'relay.yaml');
  await writeFile(config, `hostname: relay.test\nstateDir: ${state}\n`);
  // What the relay's store leaves on disk after a day of sessions.
  const store = await FileTlsRptStore.open({
    directory: join(state, 'tls-rpt'),
    flushIntervalMs: 0,
  });
  const at = new Date('2024-05-01T10:00:00Z');
  store.record({ policyDomain: 'a.test', policy: STS, result: { ok: true } }, at);
  store.record(expired, at);
  store.record(expired, at);
  store.record(
    { policyDomain: 'b.test', policy: { type: 'no-policy-found' }, result: { ok: true } },
    at,
  );
  await store.close();
});

void t.test('the table of a day', async (t) => {
  const r = await runCli(['tls-rpt', '--config', config, '--date', '2024-05-01']);
  t.equal(r.stderr, '');
  t.equal(r.code, 0);
  t.equal(
    r.stdout,
    [
      `TLS-RPT 2024-05-01 (UTC): 2 policy domains, this instance's state in ${state}/tls-rpt`,
      'POLICY DOMAIN  POLICY           SUCCESSFUL  FAILED',
      'a.test         sts              1           2',
      '    certificate-expired x2  mx mx1.mail.a.test  ip 203.0.113.5  from 192.0.2.1  (CERT_HAS_EXPIRED)',
      'b.test         no-policy-found  1           0',
      '',
    ].join('\n'),
  );
});

void t.test('--json: the RFC 8460 report of each domain', async (t) => {
  const r = await runCli(['tls-rpt', '--config', config, '--date', '2024-05-01', '--json']);
  t.equal(r.code, 0);
  const range = {
    'start-datetime': '2024-05-01T00:00:00Z',
    'end-datetime': '2024-05-01T23:59:59Z',
  };
  t.strictSame(JSON.parse(r.stdout), [
    {
      'organization-name': 'relay.test',
      'date-range': range,
      'contact-info': 'postmaster@relay.test',
      'report-id': '2024-05-01T00:00:00Z_a.test_relaytest',
      policies: [
        {
          policy: {
            'policy-type': 'sts',
            'policy-string': STS.string,
            'policy-domain': 'a.test',
            'mx-host': ['*.mail.a.test'],
          },
          summary: { 'total-successful-session-count': 1, 'total-failure-session-count': 2 },
          'failure-details': [
            {
              'result-type': 'certificate-expired',
              'sending-mta-ip': '192.0.2.1',
              'receiving-mx-hostname': 'mx1.mail.a.test',
              'receiving-ip': '203.0.113.5',
              'failed-session-count': 2,
              'failure-reason-code': 'CERT_HAS_EXPIRED',
            },
          ],
        },
      ],
    },
    {
      'organization-name': 'relay.test',
      'date-range': range,
      'contact-info': 'postmaster@relay.test',
      'report-id': '2024-05-01T00:00:00Z_b.test_relaytest',
      policies: [
        {
          policy: { 'policy-type': 'no-policy-found', 'policy-domain': 'b.test' },
          summary: { 'total-successful-session-count': 1, 'total-failure-session-count': 0 },
          'failure-details': [],
        },
      ],
    },
  ]);
});

void t.test('a day without sessions, and usage errors', async (t) => {
  const empty = await runCli(['tls-rpt', '--config', config, '--date', '2024-05-02']);
  t.equal(empty.code, 0);
  t.equal(empty.stdout, `TLS-RPT 2024-05-02 (UTC): no sessions recorded in ${state}/tls-rpt\n`);
  const bad = await runCli(['tls-rpt', '--config', config, '--date', '2024-02-30']);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /^tls-rpt: --date 2024-02-30: a UTC day written YYYY-MM-DD\nusage: /);
  const unknown = await runCli(['tls-rpt', '--verbose']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /^tls-rpt: Unknown option '--verbose'/);
  const missing = await runCli(['tls-rpt', '--config', join(state, 'nowhere.yaml')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^tls-rpt: .*nowhere\.yaml: 1 error\n/);
});
