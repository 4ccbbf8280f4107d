// Shows `probe DOMAIN` against a real dnsmasq: MX hosts probed, MTA-STS and TLS-RPT records and policy reported exactly, TLSA found by a raw query, null MX, no domain, an unreachable MX.
import t from 'tap';
import type { HostReport, ProbeReport } from '../../src/probe/model.js';
import { serverTlsOptions } from '../../src/tls/policy.js';
import { startNextHop, type TestNextHop } from '../support/next-hop.js';
import { createTestCa, type KeyPair, type TestCa } from '../support/pki.js';
import { hasDnsmasq, startDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { startHttps, type TestHttps } from '../support/probe-https.js';
import { certificateFacts, probeRun } from '../support/probe-run.js';

const TLSA_DATA = '0123456789abcdef'.repeat(4);
const POLICY = 'version: STSv1\r\nmode: enforce\r\nmx: *.sts.test\r\nmax_age: 86400\r\n';

if (!hasDnsmasq()) {
  t.plan(0, 'needs Debian package dnsmasq-base');
} else {
  let dns: TestDnsServer;
  let ca: TestCa;
  let pair: KeyPair;
  let hop: TestNextHop;
  let https: TestHttps;

  t.before(async () => {
    dns = await startDnsServer({
      mx: [
        { domain: 'modern.test', host: 'mx.modern.test', preference: 10 },
        { domain: 'sts.test', host: 'mx.sts.test', preference: 10 },
        { domain: 'two-mx.test', host: 'mx1.two-mx.test', preference: 10 },
        { domain: 'two-mx.test', host: 'mx2.two-mx.test', preference: 20 },
        { domain: 'nullmx.test', host: '.', preference: 0 },
      ],
      hosts: [
        { name: 'mx.modern.test', addresses: ['127.0.0.1'] },
        { name: 'mx.sts.test', addresses: ['127.0.0.1'] },
        { name: 'mta-sts.sts.test', addresses: ['127.0.0.1'] },
        // Nothing listens on 127.0.0.2: the preferred MX refuses connections.
        { name: 'mx1.two-mx.test', addresses: ['127.0.0.2'] },
        { name: 'mx2.two-mx.test', addresses: ['127.0.0.1'] },
        { name: 'implicit.test', addresses: ['127.0.0.1'] },
      ],
      txt: [
        // Split in two strings (joined by the reader), beside a record of another kind.
        { name: '_mta-sts.sts.test', strings: ['v=STSv1; ', 'id=20240101T000000;'] },
        { name: '_mta-sts.sts.test', strings: ['site-verification=abc'] },
        { name: '_smtp._tls.sts.test', strings: ['v=TLSRPTv1; rua=mailto:tls-reports@sts.test'] },
      ],
      raw: [{ name: '_25._tcp.mx.sts.test', type: 52, hex: `030101${TLSA_DATA}` }],
    });
    ca = await createTestCa();
    pair = await ca.issue(['mx.modern.test', 'mx.sts.test', 'mx2.two-mx.test', 'implicit.test']);
    hop = await startNextHop({
      tls: { kind: 'tls', pair },
      options: { ...serverTlsOptions('TLSv1.2', pair) },
    });
    https = await startHttps(await ca.issue(['mta-sts.sts.test']), {
      'mta-sts.sts.test /.well-known/mta-sts.txt': {
        status: 200,
        contentType: 'text/plain; charset=utf-8',
        body: POLICY,
      },
    });
  });
  t.teardown(async () => {
    await hop?.close();
    await https?.close();
    await dns?.close();
  });

  const deps = () => ({
    resolver: dns.resolver,
    smtpPort: hop.port,
    httpsPort: https.port,
    ca: ca.cert,
  });

  /** The modern host's report under `name`, with its TLSA finding. */
  function modernHost(name: string, tlsa: HostReport['tlsa']): HostReport {
    return {
      name,
      preference: 10,
      port: hop.port,
      addresses: ['127.0.0.1'],
      address: '127.0.0.1',
      reachable: true,
      error: null,
      banner: '220 next-hop.test ESMTP',
      starttls: true,
      tlsError: null,
      tls: {
        protocol: 'TLSv1.3',
        cipher: 'TLS_AES_128_GCM_SHA256',
        keyExchange: 'X25519',
        versions: { TLSv1: false, 'TLSv1.1': false, 'TLSv1.2': true, 'TLSv1.3': true },
        tls12ForwardSecrecyOnly: true,
        tls12NonForwardSecretSuites: [],
        certificate: certificateFacts(pair.cert, {
          chainValid: true,
          chainError: null,
          nameMatch: true,
          nameError: null,
        }),
      },
      tlsa,
      level: 'modern',
      shortfalls: [],
    };
  }

  void t.test('MTA-STS record and policy, TLS-RPT and TLSA, reported exactly', async (t) => {
    const run = await probeRun(['sts.test', '--require', 'modern', '--json'], deps());
    t.equal(run.code, 0, run.stderr);
    t.strictSame(JSON.parse(run.stdout), {
      target: 'sts.test',
      kind: 'domain',
      domain: 'sts.test',
      mx: { status: 'found', error: null },
      hosts: [
        modernHost('mx.sts.test', {
          name: '_25._tcp.mx.sts.test',
          status: 'present',
          records: [`3 1 1 ${TLSA_DATA}`],
          dnssec: false,
          error: null,
        }),
      ],
      mtaSts: {
        record: {
          name: '_mta-sts.sts.test',
          status: 'present',
          text: 'v=STSv1; id=20240101T000000;',
          error: null,
          id: '20240101T000000',
        },
        policy: {
          url: 'https://mta-sts.sts.test/.well-known/mta-sts.txt',
          status: 'ok',
          error: null,
          version: 'STSv1',
          mode: 'enforce',
          maxAge: 86400,
          mx: ['*.sts.test'],
        },
        unmatchedMx: [],
      },
      tlsRpt: {
        record: {
          name: '_smtp._tls.sts.test',
          status: 'present',
          text: 'v=TLSRPTv1; rua=mailto:tls-reports@sts.test',
          error: null,
        },
        rua: ['mailto:tls-reports@sts.test'],
      },
      level: 'modern',
      required: 'modern',
      exitCode: 0,
    });
    t.ok(https.requests.includes('mta-sts.sts.test /.well-known/mta-sts.txt'));

    const table = await probeRun(['sts.test'], deps());
    t.equal(table.code, 0);
    const lines = table.stdout.split('\n');
    for (const line of [
      'domain          sts.test: MX found',
      `mx.sts.test, MX 10, 127.0.0.1 port ${hop.port}`,
      '  TLSA            1 at _25._tcp.mx.sts.test (not DNSSEC validated)',
      `                  3 1 1 ${TLSA_DATA}`,
      '  level           modern',
      'MTA-STS record  v=STSv1; id=20240101T000000; (_mta-sts.sts.test)',
      'MTA-STS policy  mode enforce, max_age 86400, mx *.sts.test',
      'TLS-RPT record  v=TLSRPTv1; rua=mailto:tls-reports@sts.test (_smtp._tls.sts.test)',
      'level           modern (required none): meets it',
    ]) {
      t.ok(lines.includes(line), `table has ${JSON.stringify(line)}`);
    }
  });

  void t.test('a domain without MTA-STS, TLS-RPT or TLSA says each is absent', async (t) => {
    const run = await probeRun(['modern.test', '--require', 'modern', '--json'], deps());
    t.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as ProbeReport;
    t.strictSame(report.hosts, [
      modernHost('mx.modern.test', {
        name: '_25._tcp.mx.modern.test',
        status: 'absent',
        records: [],
        dnssec: false,
        error: null,
      }),
    ]);
    t.strictSame(report.mtaSts, {
      record: { name: '_mta-sts.modern.test', status: 'absent', text: null, error: null, id: null },
      policy: null,
      unmatchedMx: [],
    });
    t.strictSame(report.tlsRpt, {
      record: { name: '_smtp._tls.modern.test', status: 'absent', text: null, error: null },
      rua: [],
    });
    const table = await probeRun(['modern.test'], deps());
    const lines = table.stdout.split('\n');
    for (const line of [
      '  TLSA            none at _25._tcp.mx.modern.test',
      'MTA-STS record  absent (_mta-sts.modern.test)',
      'TLS-RPT record  absent (_smtp._tls.modern.test)',
    ]) {
      t.ok(lines.includes(line), `table has ${JSON.stringify(line)}`);
    }
  });

  void t.test('without MX records the domain itself is the host (implicit MX)', async (t) => {
    const run = await probeRun(['implicit.test', '--json'], deps());
    t.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as ProbeReport;
    t.strictSame(report.mx, { status: 'implicit', error: null });
    t.strictSame(
      report.hosts.map((h) => [h.name, h.preference, h.level]),
      [['implicit.test', null, 'modern']],
    );
  });

  void t.test('one MX unreachable: every host reported, exit 2', async (t) => {
    const run = await probeRun(['two-mx.test', '--require', 'encrypted', '--json'], deps());
    t.equal(run.code, 2);
    const report = JSON.parse(run.stdout) as ProbeReport;
    t.strictSame(
      report.hosts.map((h) => [h.name, h.reachable, h.error, h.level]),
      [
        ['mx1.two-mx.test', false, `connect ECONNREFUSED 127.0.0.2:${hop.port}`, null],
        ['mx2.two-mx.test', true, null, 'modern'],
      ],
    );
    t.equal(report.level, null);
  });

  void t.test('a null MX or an unknown domain: exit 2, no host probed', async (t) => {
    for (const [domain, mx] of [
      ['nullmx.test', { status: 'null-mx', error: null }],
      ['nx.test', { status: 'not-found', error: 'no MX or address for nx.test' }],
    ] as const) {
      const run = await probeRun([domain, '--json'], deps());
      t.equal(run.code, 2, domain);
      const report = JSON.parse(run.stdout) as ProbeReport;
      t.strictSame(report.mx, mx, domain);
      t.strictSame(report.hosts, [], domain);
      t.equal(report.level, null, domain);
      const table = await probeRun([domain], deps());
      t.equal(table.code, 2);
      t.ok(
        table.stdout
          .split('\n')
          .includes(
            `domain          ${domain}: MX ${mx.status}${mx.error ? ` (${mx.error})` : ''}`,
          ),
        domain,
      );
      t.ok(
        table.stdout
          .split('\n')
          .includes('level           unknown (required none): no host to probe'),
      );
    }
  });
}
