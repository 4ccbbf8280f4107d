// Shows `probe HOST:PORT` against real SMTP servers of known posture: modern, legacy, misnamed, without STARTTLS, with a failing STARTTLS, unreachable, silent.
import t from 'tap';
import type { HostReport, ProbeReport } from '../../src/probe/model.js';
import { serverTlsOptions } from '../../src/tls/policy.js';
import { deadPort, startNextHop, type TestNextHop } from '../support/next-hop.js';
import { createTestCa, type KeyPair, type TestCa } from '../support/pki.js';
import { rsaSelfSigned } from '../support/probe-pki.js';
import {
  certificateFacts,
  probeRun,
  startFaultyStartTls,
  startSilentHost,
} from '../support/probe-run.js';

let ca: TestCa;
let modernPair: KeyPair;
let modern: TestNextHop;
let legacyPair: KeyPair;
let legacy: TestNextHop;

t.before(async () => {
  ca = await createTestCa();
  // The relay's own inbound policy: TLS 1.2+, six forward-secret suites, server order.
  modernPair = await ca.issue(['127.0.0.1']);
  modern = await startNextHop({
    tls: { kind: 'tls', pair: modernPair },
    options: { ...serverTlsOptions('TLSv1.2', modernPair) },
  });
  // TLS 1.0 to 1.2, one forward-secret suite and two with RSA key transport, self-signed.
  legacyPair = await rsaSelfSigned(['127.0.0.1']);
  legacy = await startNextHop({
    tls: { kind: 'tls', pair: legacyPair },
    options: {
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1.2',
      ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA:AES256-GCM-SHA384@SECLEVEL=0',
    },
  });
});
t.teardown(async () => {
  await modern?.close();
  await legacy?.close();
});

function only(report: ProbeReport): HostReport {
  if (report.hosts.length !== 1 || !report.hosts[0]) throw new Error('expected one host');
  return report.hosts[0];
}

void t.test('a modern host is level modern: exit 0 with --require modern', async (t) => {
  const target = `127.0.0.1:${modern.port}`;
  const before = modern.connections;
  const run = await probeRun([target, '--require', 'modern', '--json'], { ca: ca.cert });
  t.equal(run.code, 0, run.stderr);
  // The widest offer, TLS 1.0, 1.1 and 1.2 alone (1.3 was the widest offer's), the RSA suites.
  t.equal(modern.connections - before, 5, 'a bounded number of connections');
  t.equal(run.stderr, '');
  const report = JSON.parse(run.stdout) as ProbeReport;
  t.strictSame(report, {
    target,
    kind: 'host',
    domain: null,
    mx: { status: 'not-looked-up', error: null },
    hosts: [
      {
        name: '127.0.0.1',
        preference: null,
        port: modern.port,
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
          certificate: certificateFacts(modernPair.cert, {
            chainValid: true,
            chainError: null,
            nameMatch: true,
            nameError: null,
          }),
        },
        tlsa: null,
        level: 'modern',
        shortfalls: [],
      },
    ],
    mtaSts: null,
    tlsRpt: null,
    level: 'modern',
    required: 'modern',
    exitCode: 0,
  });

  const table = await probeRun([target, '--require', 'modern'], { ca: ca.cert });
  t.equal(table.code, 0);
  const lines = table.stdout.split('\n');
  for (const line of [
    `127.0.0.1, port ${modern.port}`,
    '  STARTTLS        offered',
    '  negotiated      TLSv1.3 TLS_AES_128_GCM_SHA256 X25519',
    '  TLSv1           refused',
    '  TLSv1.1         refused',
    '  TLSv1.2         accepted',
    '  TLSv1.3         accepted',
    '  TLS 1.2 suites  forward secret only',
    '  certificate     CN=127.0.0.1, issued by CN=starttls-relay test CA',
    '  chain           valid',
    '  name            matches 127.0.0.1',
    '  TLSA            not looked up for an address',
    '  level           modern',
    'level           modern (required modern): meets it',
  ]) {
    t.ok(lines.includes(line), `table has ${JSON.stringify(line)}`);
  }
  t.match(table.stdout, /\n {2}expires {9}\d{4}-\d\d-\d\dT[\d:.]+Z \(\d+ days? left\)\n/);
});

void t.test('a legacy host: exit 1 with --require modern, naming each weakness', async (t) => {
  const target = `127.0.0.1:${legacy.port}`;
  const before = legacy.connections;
  const run = await probeRun([target, '--require', 'modern', '--json'], { ca: ca.cert });
  t.equal(run.code, 1, run.stderr);
  // The widest offer, TLS 1.0, 1.1 and 1.3 alone, then RSA suites: two accepted, one refusal.
  t.equal(legacy.connections - before, 7, 'a bounded number of connections');
  const report = JSON.parse(run.stdout) as ProbeReport;
  const host = only(report);
  t.strictSame(host.tls, {
    protocol: 'TLSv1.2',
    cipher: 'ECDHE-RSA-AES128-GCM-SHA256',
    keyExchange: 'X25519',
    versions: { TLSv1: true, 'TLSv1.1': true, 'TLSv1.2': true, 'TLSv1.3': false },
    tls12ForwardSecrecyOnly: false,
    tls12NonForwardSecretSuites: ['AES128-SHA', 'AES256-GCM-SHA384'],
    certificate: certificateFacts(legacyPair.cert, {
      chainValid: false,
      chainError: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      nameMatch: true,
      nameError: null,
    }),
  });
  t.equal(host.level, 'encrypted');
  t.strictSame(host.shortfalls, [
    'certificate chain invalid: DEPTH_ZERO_SELF_SIGNED_CERT',
    'accepts TLSv1',
    'accepts TLSv1.1',
    'accepts TLS 1.2 suites without forward secrecy: AES128-SHA, AES256-GCM-SHA384',
  ]);
  t.equal(report.level, 'encrypted');
  t.equal(report.exitCode, 1);

  const table = await probeRun([target, '--require', 'modern'], { ca: ca.cert });
  t.equal(table.code, 1);
  const lines = table.stdout.split('\n');
  for (const line of [
    '  negotiated      TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256 X25519',
    '  TLSv1           accepted',
    '  TLSv1.1         accepted',
    '  TLSv1.2         accepted',
    '  TLSv1.3         refused',
    '  TLS 1.2 suites  accepts without forward secrecy: AES128-SHA, AES256-GCM-SHA384',
    '  certificate     CN=127.0.0.1, issued by CN=127.0.0.1',
    '  chain           invalid: DEPTH_ZERO_SELF_SIGNED_CERT',
    '  level           encrypted',
    '  shortfalls      certificate chain invalid: DEPTH_ZERO_SELF_SIGNED_CERT',
    '                  accepts TLSv1',
    '                  accepts TLSv1.1',
    '                  accepts TLS 1.2 suites without forward secrecy: AES128-SHA, AES256-GCM-SHA384',
    'level           encrypted (required modern): weaker',
  ]) {
    t.ok(lines.includes(line), `table has ${JSON.stringify(line)}`);
  }

  // The same host meets a lower requirement.
  t.equal((await probeRun([target, '--require', 'encrypted'], { ca: ca.cert })).code, 0);
  t.equal((await probeRun([target, '--require', 'verified'], { ca: ca.cert })).code, 1);
});

void t.test('a certificate for another name is encrypted, not verified', async (t) => {
  const pair = await ca.issue(['other.test']);
  const hop = await startNextHop({
    tls: { kind: 'tls', pair },
    options: { ...serverTlsOptions('TLSv1.2', pair) },
  });
  t.teardown(() => hop.close());
  const run = await probeRun([`127.0.0.1:${hop.port}`, '--require', 'verified', '--json'], {
    ca: ca.cert,
  });
  t.equal(run.code, 1);
  const host = only(JSON.parse(run.stdout) as ProbeReport);
  t.equal(host.level, 'encrypted');
  t.equal(host.tls?.certificate.chainValid, true);
  t.equal(host.tls?.certificate.nameMatch, false);
  t.strictSame(host.shortfalls, [
    "certificate does not match 127.0.0.1: IP: 127.0.0.1 is not in the cert's list:",
  ]);
});

void t.test('an expired certificate fails the chain and says so', async (t) => {
  const pair = await ca.issue(['127.0.0.1'], { expired: true });
  const hop = await startNextHop({
    tls: { kind: 'tls', pair },
    options: { ...serverTlsOptions('TLSv1.2', pair) },
  });
  t.teardown(() => hop.close());
  const target = `127.0.0.1:${hop.port}`;
  const run = await probeRun([target, '--require', 'verified', '--json'], { ca: ca.cert });
  t.equal(run.code, 1);
  const host = only(JSON.parse(run.stdout) as ProbeReport);
  t.strictSame(host.tls?.certificate, {
    ...certificateFacts(pair.cert, {
      chainValid: false,
      chainError: 'CERT_HAS_EXPIRED',
      nameMatch: true,
      nameError: null,
    }),
    expired: true,
  });
  t.strictSame(host.shortfalls, ['certificate chain invalid: CERT_HAS_EXPIRED']);
  const table = await probeRun([target], { ca: ca.cert });
  t.match(table.stdout, /\n {2}expires {9}\S+Z \(expired 1 day ago\)\n/);
  t.ok(table.stdout.split('\n').includes('  chain           invalid: CERT_HAS_EXPIRED'));
});

void t.test('no STARTTLS: exit 1 with --require encrypted, 0 without a requirement', async (t) => {
  const hop = await startNextHop({ tls: { kind: 'none' } });
  t.teardown(() => hop.close());
  const target = `127.0.0.1:${hop.port}`;
  const run = await probeRun([target, '--require', 'encrypted', '--json']);
  t.equal(run.code, 1);
  const host = only(JSON.parse(run.stdout) as ProbeReport);
  t.strictSame(
    { ...host, tlsa: 'skipped' },
    {
      name: '127.0.0.1',
      preference: null,
      port: hop.port,
      addresses: ['127.0.0.1'],
      address: '127.0.0.1',
      reachable: true,
      error: null,
      banner: '220 next-hop.test ESMTP',
      starttls: false,
      tlsError: null,
      tls: null,
      tlsa: 'skipped',
      level: 'none',
      shortfalls: ['STARTTLS not offered'],
    },
  );
  const table = await probeRun([target, '--require', 'encrypted']);
  t.equal(table.code, 1);
  t.ok(table.stdout.split('\n').includes('  STARTTLS        not offered'));
  t.ok(table.stdout.split('\n').includes('level           none (required encrypted): weaker'));
  t.equal((await probeRun([target])).code, 0);
});

void t.test('STARTTLS offered but failing is level none, saying how it failed', async (t) => {
  const expected = {
    refuse: 'STARTTLS: 454 4.7.0 TLS not available due to temporary reason',
    garbage: 'ERR_SSL_WRONG_VERSION_NUMBER',
    stall: 'no TLS handshake within 1000 ms',
    inject: 'the server sent data after its 220 to STARTTLS',
  } as const;
  for (const fault of ['refuse', 'garbage', 'stall', 'inject'] as const) {
    const host = await startFaultyStartTls(fault);
    t.teardown(() => host.close());
    const run = await probeRun([
      `127.0.0.1:${host.port}`,
      '--require',
      'encrypted',
      '--timeout',
      '1',
      '--json',
    ]);
    t.equal(run.code, 1, fault);
    const report = only(JSON.parse(run.stdout) as ProbeReport);
    t.equal(report.starttls, true, fault);
    t.equal(report.tlsError, expected[fault], fault);
    t.equal(report.level, 'none', fault);
    t.strictSame(report.shortfalls, [`STARTTLS failed: ${expected[fault]}`], fault);
  }
});

void t.test('a port where nothing listens is unreachable: exit 2', async (t) => {
  const port = await deadPort();
  const run = await probeRun([`127.0.0.1:${port}`, '--require', 'none', '--json']);
  t.equal(run.code, 2);
  const report = JSON.parse(run.stdout) as ProbeReport;
  const host = only(report);
  t.equal(host.reachable, false);
  t.equal(host.error, `connect ECONNREFUSED 127.0.0.1:${port}`);
  t.equal(host.level, null);
  t.strictSame(host.shortfalls, [`unreachable: connect ECONNREFUSED 127.0.0.1:${port}`]);
  t.equal(report.level, null);
  t.equal(report.exitCode, 2);
  const table = await probeRun([`127.0.0.1:${port}`]);
  t.equal(table.code, 2);
  t.ok(
    table.stdout.split('\n').includes(`  unreachable     connect ECONNREFUSED 127.0.0.1:${port}`),
  );
  t.ok(
    table.stdout
      .split('\n')
      .includes('level           unknown (required none): could not probe every host'),
  );
});

void t.test('a host that never greets ends on the deadline: exit 2', async (t) => {
  const silent = await startSilentHost();
  t.teardown(() => silent.close());
  const run = await probeRun([`127.0.0.1:${silent.port}`, '--timeout', '1', '--json']);
  t.equal(run.code, 2);
  const host = only(JSON.parse(run.stdout) as ProbeReport);
  t.equal(host.reachable, false);
  t.equal(host.error, 'no greeting within 1000 ms');
});

void t.test('usage errors exit 2 and say what is wrong', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [[], /give one DOMAIN or HOST\[:PORT\]/],
    [['a.test', 'b.test'], /give one DOMAIN or HOST\[:PORT\]/],
    [['not a name!'], /not a domain or host\[:port\]: not a name!/],
    [['a.test:99999'], /not a domain or host\[:port\]: a\.test:99999/],
    [
      ['a.test', '--require', 'perfect'],
      /--require perfect: one of none, encrypted, verified, modern/,
    ],
    [['a.test', '--timeout', '0'], /--timeout 0: seconds/],
    [['a.test', '--bogus'], /Unknown option '--bogus'/],
  ];
  for (const [argv, message] of cases) {
    const run = await probeRun(argv);
    t.equal(run.code, 2, argv.join(' '));
    t.equal(run.stdout, '');
    t.match(run.stderr, message);
    t.match(run.stderr, /usage: starttls-relay probe/);
  }
  const help = await probeRun(['--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /--require LEVEL none \| encrypted \| verified \| modern/);
});
