// Shows MTA-STS policy fetching over real DNS (dnsmasq) and HTTPS: redirects not followed, the media type checked, the size limited, the certificate verified for mta-sts.DOMAIN, invalid records and policies named; and TLS-RPT records checked.
import t from 'tap';
import { lookupTlsRpt } from '../../src/probe/dns-records.js';
import type { MtaStsPolicyReport } from '../../src/probe/model.js';
import { MAX_POLICY_BYTES, probeMtaSts, type MtaStsDeps } from '../../src/probe/mta-sts.js';
import { createTestCa } from '../support/pki.js';
import { hasDnsmasq, startDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { startHttps, type HttpsAnswer, type TestHttps } from '../support/probe-https.js';

const PATH = '/.well-known/mta-sts.txt';
const GOOD = 'version: STSv1\nmode: testing\nmx: mx.a.test\nmx: *.b.test\nmax_age: 604800\n';

/** Each domain's policy answer; every one has an `_mta-sts` record and an mta-sts host. */
const ANSWERS: Record<string, HttpsAnswer> = {
  'lf.test': { status: 200, contentType: 'text/plain', body: GOOD },
  'redirect.test': {
    status: 301,
    headers: { location: `https://mta-sts.lf.test${PATH}` },
  },
  'notfound.test': { status: 404, contentType: 'text/plain', body: 'no' },
  'html.test': { status: 200, contentType: 'text/html', body: GOOD },
  'big.test': {
    status: 200,
    contentType: 'text/plain',
    body: GOOD + `# ${'x'.repeat(MAX_POLICY_BYTES)}\n`,
  },
  'invalid.test': {
    status: 200,
    contentType: 'text/plain',
    body: 'version: STSv2\nmode: sometimes\nmax_age: 99999999999\nthis line is wrong\n',
  },
  'unmatched.test': {
    status: 200,
    contentType: 'text/plain',
    body: 'version: STSv1\r\nmode: enforce\r\nmx: mail.elsewhere.test\r\nmax_age: 86400\r\n',
  },
  'wrongcert.test': { status: 200, contentType: 'text/plain', body: GOOD },
};

if (!hasDnsmasq()) {
  t.plan(0, 'needs Debian package dnsmasq-base');
} else {
  let dns: TestDnsServer;
  let https: TestHttps;
  let deps: MtaStsDeps;

  t.before(async () => {
    const domains = [...Object.keys(ANSWERS), 'noaddress.test'];
    dns = await startDnsServer({
      hosts: Object.keys(ANSWERS).map((d) => ({ name: `mta-sts.${d}`, addresses: ['127.0.0.1'] })),
      txt: [
        ...domains.map((d) => ({ name: `_mta-sts.${d}`, strings: ['v=STSv1; id=abc123'] })),
        { name: '_mta-sts.two.test', strings: ['v=STSv1; id=one'] },
        { name: '_mta-sts.two.test', strings: ['v=STSv1; id=two'] },
        { name: '_mta-sts.noid.test', strings: ['v=STSv1; mode=enforce'] },
        { name: '_smtp._tls.ftp.test', strings: ['v=TLSRPTv1; rua=ftp://reports.ftp.test'] },
        {
          name: '_smtp._tls.two-rua.test',
          strings: ['v=TLSRPTv1;rua=mailto:a@two-rua.test', ',https://r.two-rua.test/v1'],
        },
      ],
    });
    const ca = await createTestCa();
    const names = Object.keys(ANSWERS).map((d) => `mta-sts.${d}`);
    https = await startHttps(
      await ca.issue(names),
      Object.fromEntries(Object.entries(ANSWERS).map(([d, a]) => [`mta-sts.${d} ${PATH}`, a])),
      { 'mta-sts.wrongcert.test': await ca.issue(['elsewhere.test']) },
    );
    deps = { resolver: dns.resolver, httpsPort: https.port, ca: ca.cert, timeoutMs: 5000 };
  });
  t.teardown(async () => {
    await https?.close();
    await dns?.close();
  });

  function failed(domain: string, error: string): MtaStsPolicyReport {
    return {
      url: `https://mta-sts.${domain}${PATH}`,
      status: 'error',
      error,
      version: null,
      mode: null,
      maxAge: null,
      mx: [],
    };
  }

  void t.test('a valid policy with LF line ends and a wildcard mx', async (t) => {
    const r = await probeMtaSts('lf.test', ['mx.a.test', 'in.b.test', 'b.test'], deps);
    t.strictSame(r.policy, {
      url: `https://mta-sts.lf.test${PATH}`,
      status: 'ok',
      error: null,
      version: 'STSv1',
      mode: 'testing',
      maxAge: 604800,
      mx: ['mx.a.test', '*.b.test'],
    });
    // RFC 8461 §4.1: *.b.test covers one label, not b.test itself.
    t.strictSame(r.unmatchedMx, ['b.test']);
  });

  void t.test('a redirect is not followed', async (t) => {
    const before = https.requests.length;
    const r = await probeMtaSts('redirect.test', [], deps);
    t.strictSame(
      r.policy,
      failed('redirect.test', `HTTP 301 redirect to https://mta-sts.lf.test${PATH} not followed`),
    );
    t.strictSame(https.requests.slice(before), [`mta-sts.redirect.test ${PATH}`]);
  });

  void t.test('fetch failures each say why', async (t) => {
    const cases: Array<[string, string]> = [
      ['notfound.test', 'HTTP 404'],
      ['html.test', 'Content-Type text/html, not text/plain'],
      ['big.test', `policy larger than ${MAX_POLICY_BYTES} bytes`],
      ['wrongcert.test', 'ERR_TLS_CERT_ALTNAME_INVALID'],
      ['noaddress.test', 'no address for mta-sts.noaddress.test (ENOTFOUND)'],
    ];
    for (const [domain, error] of cases) {
      const r = await probeMtaSts(domain, [], deps);
      t.equal(r.record.status, 'present', domain);
      t.strictSame(r.policy, failed(domain, error), domain);
    }
  });

  void t.test('an invalid policy is reported with every reason', async (t) => {
    const r = await probeMtaSts('invalid.test', ['mx.invalid.test'], deps);
    t.strictSame(r.policy, {
      url: `https://mta-sts.invalid.test${PATH}`,
      status: 'invalid',
      error: [
        'line 4 is not "key: value"',
        'version STSv2 is not STSv1',
        'mode sometimes is not enforce, testing or none',
        'max_age 99999999999 is not a number',
        'no mx',
      ].join('; '),
      version: 'STSv2',
      mode: null,
      maxAge: null,
      mx: [],
    });
    t.strictSame(r.unmatchedMx, []);
  });

  void t.test('MX hosts outside an enforced policy are named', async (t) => {
    const r = await probeMtaSts('unmatched.test', ['mx.unmatched.test'], deps);
    t.equal(r.policy?.status, 'ok');
    t.equal(r.policy?.mode, 'enforce');
    t.strictSame(r.unmatchedMx, ['mx.unmatched.test']);
  });

  void t.test('records: two are none, a missing id is invalid; no policy fetched', async (t) => {
    const before = https.requests.length;
    t.strictSame(await probeMtaSts('two.test', [], deps), {
      record: {
        name: '_mta-sts.two.test',
        status: 'invalid',
        text: 'v=STSv1; id=one | v=STSv1; id=two',
        error: '2 records begin with v=STSv1; exactly one is allowed',
        id: null,
      },
      policy: null,
      unmatchedMx: [],
    });
    t.strictSame(await probeMtaSts('noid.test', [], deps), {
      record: {
        name: '_mta-sts.noid.test',
        status: 'invalid',
        text: 'v=STSv1; mode=enforce',
        error: 'no id field',
        id: null,
      },
      policy: null,
      unmatchedMx: [],
    });
    t.equal(https.requests.length, before);
  });

  void t.test('TLS-RPT: several rua URIs, and a scheme that is not allowed', async (t) => {
    t.strictSame(await lookupTlsRpt(dns.resolver, 'two-rua.test'), {
      record: {
        name: '_smtp._tls.two-rua.test',
        status: 'present',
        text: 'v=TLSRPTv1;rua=mailto:a@two-rua.test,https://r.two-rua.test/v1',
        error: null,
      },
      rua: ['mailto:a@two-rua.test', 'https://r.two-rua.test/v1'],
    });
    t.strictSame(await lookupTlsRpt(dns.resolver, 'ftp.test'), {
      record: {
        name: '_smtp._tls.ftp.test',
        status: 'invalid',
        text: 'v=TLSRPTv1; rua=ftp://reports.ftp.test',
        error: 'rua "ftp://reports.ftp.test" is not a mailto: or https: URI',
      },
      rua: [],
    });
  });
}
