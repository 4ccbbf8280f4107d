// Shows MtaStsSource over real DNS (dnsmasq on loopback) and a real HTTPS policy host with a per-run test CA: an enforce policy fetched, then served from the cache without a request; an id change refetched; the cached policy kept while the policy host is down; a bad certificate, an oversized policy and no record each answered as RFC 8461 and RFC 8460 say, and counted.
import t from 'tap';
import { MAX_POLICY_BYTES } from '../../src/mta-sts/fetch.js';
import { MtaStsSource, type MtaStsSourceDeps, type StsPolicy } from '../../src/mta-sts/source.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { hasDnsmasq, startDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { createTestCa, type TestCa } from '../support/pki.js';
import { startHttps, type HttpsAnswer, type TestHttps } from '../support/probe-https.js';

const PATH = '/.well-known/mta-sts.txt';
const ENFORCE =
  'version: STSv1\r\nmode: enforce\r\nmx: mx1.enforce.test\r\nmx: *.mx.enforce.test\r\nmax_age: 604800\r\n';
const policyText = (mx: string): HttpsAnswer => ({
  status: 200,
  contentType: 'text/plain',
  body: `version: STSv1\r\nmode: enforce\r\nmx: ${mx}\r\nmax_age: 86400\r\n`,
});

/** Domains with an `_mta-sts` record; `ids` differ between the two DNS zones (a policy update). */
const DOMAINS = ['enforce.test', 'down.test', 'wrongname.test', 'untrusted.test', 'big.test'];

if (!hasDnsmasq()) {
  t.plan(0, 'needs Debian package dnsmasq-base');
} else {
  let ca: TestCa;
  /** Two zones, the second with every id changed: a domain updating its policy (§3.1). */
  let before: TestDnsServer;
  let after: TestDnsServer;
  let https: TestHttps;
  /** Read by the server at each request, so a test can change a policy. */
  const answers: Record<string, HttpsAnswer> = {};

  const zone = (id: string) => ({
    hosts: [...DOMAINS, 'plain.test'].map((d) => ({
      name: `mta-sts.${d}`,
      addresses: ['127.0.0.1'],
    })),
    txt: DOMAINS.map((d) => ({ name: `_mta-sts.${d}`, strings: [`v=STSv1; id=${id}`] })),
  });

  t.before(async () => {
    ca = await createTestCa();
    before = await startDnsServer(zone('2024a'));
    after = await startDnsServer(zone('2024b'));
    const other = await createTestCa('another CA');
    answers[`mta-sts.enforce.test ${PATH}`] = {
      status: 200,
      contentType: 'text/plain',
      body: ENFORCE,
    };
    answers[`mta-sts.plain.test ${PATH}`] = policyText('mx.plain.test');
    for (const d of ['wrongname.test', 'untrusted.test'])
      answers[`mta-sts.${d} ${PATH}`] = policyText(`mx.${d}`);
    answers[`mta-sts.big.test ${PATH}`] = {
      status: 200,
      contentType: 'text/plain',
      body: `${ENFORCE}# ${'x'.repeat(MAX_POLICY_BYTES)}\n`,
    };
    https = await startHttps(
      await ca.issue(['mta-sts.enforce.test', 'mta-sts.big.test', 'mta-sts.plain.test']),
      answers,
      {
        'mta-sts.wrongname.test': await ca.issue(['mta-sts.elsewhere.test']),
        'mta-sts.untrusted.test': await other.issue(['mta-sts.untrusted.test']),
      },
    );
  });
  t.teardown(async () => {
    await https?.close();
    await before?.close();
    await after?.close();
  });

  /** A source over whichever zone `dns.current` names; the tests switch it to publish new ids. */
  function source(port = https.port) {
    const dns = { current: before };
    const resolver = {
      resolveTxt: (name: string) => dns.current.resolver.resolveTxt(name),
      resolve4: (name: string) => dns.current.resolver.resolve4(name),
      resolve6: (name: string) => dns.current.resolver.resolve6(name),
    } as MtaStsSourceDeps['resolver'];
    const metrics = new Metrics({ processMetrics: false });
    const sts = new MtaStsSource({
      resolver,
      httpsPort: port,
      ca: ca.cert,
      timeoutMs: 5000,
      metrics,
    });
    return { sts, dns, metrics };
  }

  const requests = (domain: string): number =>
    https.requests.filter((r) => r === `mta-sts.${domain} ${PATH}`).length;

  async function counts(metrics: Metrics): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const v of (await metrics.mtaStsLookups.get()).values)
      out[`lookup ${v.labels.outcome}`] = v.value;
    for (const v of (await metrics.mtaStsFetches.get()).values)
      out[`fetch ${v.labels.result}`] = v.value;
    out.entries = (await metrics.mtaStsCacheEntries.get()).values[0]?.value ?? NaN;
    return out;
  }

  void t.test(
    'an enforce policy is fetched, then used from the cache without a request',
    async (t) => {
      const { sts, metrics } = source();
      const policy: StsPolicy = {
        mode: 'enforce',
        mx: ['mx1.enforce.test', '*.mx.enforce.test'],
        maxAgeSeconds: 604800,
        id: '2024a',
      };
      const first = requests('enforce.test');
      t.strictSame(await sts.policyFor('enforce.test'), { kind: 'policy', policy, from: 'fetch' });
      t.strictSame(await sts.policyFor('enforce.test'), { kind: 'policy', policy, from: 'cache' });
      t.equal(requests('enforce.test') - first, 1, 'one request for two lookups');
      t.ok(MtaStsSource.mxAllowed(policy, 'a.mx.enforce.test'));
      t.notOk(MtaStsSource.mxAllowed(policy, 'mx2.enforce.test'));
      t.strictSame(await counts(metrics), {
        'lookup none': 0,
        'lookup cache': 1,
        'lookup fetch': 1,
        'lookup failed': 0,
        'fetch ok': 1,
        'fetch fetch_error': 0,
        'fetch invalid': 0,
        'fetch webpki_invalid': 0,
        entries: 1,
      });
    },
  );

  void t.test('a new id in DNS makes the policy be fetched again', async (t) => {
    const { sts, dns } = source();
    t.match(await sts.policyFor('enforce.test'), { from: 'fetch', policy: { id: '2024a' } });
    const first = requests('enforce.test');
    answers[`mta-sts.enforce.test ${PATH}`] = policyText('mx.new.enforce.test');
    t.teardown(() => {
      answers[`mta-sts.enforce.test ${PATH}`] = {
        status: 200,
        contentType: 'text/plain',
        body: ENFORCE,
      };
    });
    dns.current = after;
    t.strictSame(await sts.policyFor('enforce.test'), {
      kind: 'policy',
      policy: { mode: 'enforce', mx: ['mx.new.enforce.test'], maxAgeSeconds: 86400, id: '2024b' },
      from: 'fetch',
    });
    t.equal(requests('enforce.test') - first, 1);
  });

  void t.test('the policy host down: the cached policy stays in force', async (t) => {
    const own = await startHttps(await ca.issue(['mta-sts.down.test']), {
      [`mta-sts.down.test ${PATH}`]: policyText('mx.down.test'),
    });
    const { sts, dns, metrics } = source(own.port);
    t.match(await sts.policyFor('down.test'), { from: 'fetch', policy: { id: '2024a' } });
    await own.close();
    dns.current = after; // a new id: the source must try to refetch, and cannot
    t.strictSame(await sts.policyFor('down.test'), {
      kind: 'policy',
      policy: { mode: 'enforce', mx: ['mx.down.test'], maxAgeSeconds: 86400, id: '2024a' },
      from: 'cache',
    });
    t.match(await counts(metrics), { 'fetch ok': 1, 'fetch fetch_error': 1, 'lookup cache': 1 });
    t.strictSame(
      await source(own.port).sts.policyFor('down.test'),
      {
        kind: 'failed',
        resultType: 'sts-policy-fetch-error',
        error: '127.0.0.1: ECONNREFUSED',
      },
      'with nothing cached it is a fetch error',
    );
  });

  void t.test(
    'a certificate for another name or from an unknown CA: sts-webpki-invalid',
    async (t) => {
      const { sts, metrics } = source();
      t.strictSame(await sts.policyFor('wrongname.test'), {
        kind: 'failed',
        resultType: 'sts-webpki-invalid',
        error: 'ERR_TLS_CERT_ALTNAME_INVALID',
      });
      t.strictSame(await sts.policyFor('untrusted.test'), {
        kind: 'failed',
        resultType: 'sts-webpki-invalid',
        error: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      });
      t.equal(requests('wrongname.test') + requests('untrusted.test'), 0, 'no request sent');
      t.match(await counts(metrics), { 'fetch webpki_invalid': 2, 'lookup failed': 2, entries: 0 });
    },
  );

  void t.test('a policy over 64 KiB: sts-policy-invalid', async (t) => {
    const { sts, metrics } = source();
    t.strictSame(await sts.policyFor('big.test'), {
      kind: 'failed',
      resultType: 'sts-policy-invalid',
      error: `policy larger than ${MAX_POLICY_BYTES} bytes`,
    });
    t.match(await counts(metrics), { 'fetch invalid': 1, 'lookup failed': 1 });
  });

  void t.test('no _mta-sts record: none, and the policy host is not asked', async (t) => {
    const { sts, metrics } = source();
    t.strictSame(await sts.policyFor('plain.test'), { kind: 'none' });
    t.strictSame(await sts.policyFor('nxdomain.test'), { kind: 'none' });
    t.equal(requests('plain.test'), 0);
    t.match(await counts(metrics), { 'lookup none': 2, 'fetch ok': 0, 'fetch fetch_error': 0 });
  });
}
