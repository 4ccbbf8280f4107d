// Shows MtaStsSource's cache decisions (RFC 8461 §5.1) with a scripted TXT resolver and a real local HTTPS policy host: expiry at max_age, the cached policy kept when DNS fails or the record goes, mode none cached, an invalid policy not cached, one fetch for concurrent lookups, the LRU bound, and the cache kept across restarts in a state file.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { MtaStsSource, type MtaStsSourceDeps } from '../../../src/mta-sts/source.js';
import { Metrics } from '../../../src/telemetry/metrics.js';
import { startHttps, type HttpsAnswer, type TestHttps } from '../../support/probe-https.js';
import { createTestCa, type TestCa } from '../../support/pki.js';

const PATH = '/.well-known/mta-sts.txt';
const DAY = 86_400;
const text = (mode: string, mx: string[], maxAge = DAY): HttpsAnswer => ({
  status: 200,
  contentType: 'text/plain',
  body: `version: STSv1\r\nmode: ${mode}\r\n${mx.map((m) => `mx: ${m}\r\n`).join('')}max_age: ${maxAge}\r\n`,
});

/** `_mta-sts` answers by domain: one record, several, or a DNS error code. */
type TxtAnswers = Map<string, string | string[] | { code: string }>;

function scriptedResolver(txt: TxtAnswers): MtaStsSourceDeps['resolver'] & { queries: string[] } {
  const queries: string[] = [];
  const fail = (code: string) => Promise.reject(Object.assign(new Error(code), { code }));
  // resolve4/resolve6 have `{ ttl: true }` overloads the source never uses.
  return {
    queries,
    resolveTxt: (name: string) => {
      queries.push(`TXT ${name}`);
      const answer = txt.get(name.replace(/^_mta-sts\./, ''));
      if (answer === undefined) return fail('ENOTFOUND');
      if (typeof answer === 'string') return Promise.resolve([[answer]]);
      return Array.isArray(answer) ? Promise.resolve(answer.map((r) => [r])) : fail(answer.code);
    },
    resolve4: (name: string) =>
      name.startsWith('mta-sts.') ? Promise.resolve(['127.0.0.1']) : fail('ENOTFOUND'),
    resolve6: () => fail('ENODATA'),
  } as unknown as MtaStsSourceDeps['resolver'] & { queries: string[] };
}

let ca: TestCa;
let https: TestHttps;
/** Mutable: the server reads it at each request. */
const answers: Record<string, HttpsAnswer> = {};
const answer = (domain: string, a: HttpsAnswer): void => {
  answers[`mta-sts.${domain} ${PATH}`] = a;
};
const requestsFor = (domain: string): number =>
  https.requests.filter((r) => r === `mta-sts.${domain} ${PATH}`).length;

t.before(async () => {
  ca = await createTestCa();
  const names = ['expiry', 'dns', 'none', 'invalid', 'shared', 'a', 'b', 'kept', 'corrupt'];
  https = await startHttps(await ca.issue(names.map((n) => `mta-sts.${n}.test`)), answers);
});
t.teardown(() => https?.close());

function source(txt: TxtAnswers, extra: Partial<MtaStsSourceDeps> = {}) {
  let clock = 1_700_000_000_000;
  const resolver = scriptedResolver(txt);
  const metrics = new Metrics({ processMetrics: false });
  const sts = new MtaStsSource({
    resolver,
    httpsPort: https.port,
    ca: ca.cert,
    timeoutMs: 5000,
    now: () => clock,
    metrics,
    ...extra,
  });
  return { sts, resolver, metrics, advance: (seconds: number) => (clock += seconds * 1000) };
}

async function count(metrics: Metrics, label: string): Promise<number> {
  const values = (await metrics.mtaStsLookups.get()).values;
  return values.find((v) => v.labels.outcome === label)?.value ?? NaN;
}

void t.test('a policy is used until max_age, then fetched again', async (t) => {
  answer('expiry.test', text('enforce', ['mx.expiry.test'], 3600));
  const { sts, advance, metrics } = source(new Map([['expiry.test', 'v=STSv1; id=1']]));
  const policy = { mode: 'enforce', mx: ['mx.expiry.test'], maxAgeSeconds: 3600, id: '1' };
  t.strictSame(await sts.policyFor('expiry.test'), { kind: 'policy', policy, from: 'fetch' });
  advance(3599);
  t.strictSame(await sts.policyFor('Expiry.Test.'), { kind: 'policy', policy, from: 'cache' });
  t.equal(requestsFor('expiry.test'), 1);
  advance(1);
  t.strictSame(await sts.policyFor('expiry.test'), { kind: 'policy', policy, from: 'fetch' });
  t.equal(requestsFor('expiry.test'), 2);
  t.equal(await count(metrics, 'fetch'), 2);
  t.equal(await count(metrics, 'cache'), 1);
});

void t.test('DNS failing or the record gone: the cached policy stays, never none', async (t) => {
  answer('dns.test', text('enforce', ['mx.dns.test']));
  const txt: TxtAnswers = new Map([['dns.test', 'v=STSv1; id=1']]);
  const { sts, advance } = source(txt);
  t.equal((await sts.policyFor('dns.test')).kind, 'policy');
  txt.set('dns.test', { code: 'ESERVFAIL' });
  t.match(await sts.policyFor('dns.test'), { kind: 'policy', from: 'cache', policy: { id: '1' } });
  txt.delete('dns.test');
  t.match(await sts.policyFor('dns.test'), { kind: 'policy', from: 'cache', policy: { id: '1' } });
  txt.set('dns.test', ['v=STSv1; id=1', 'v=STSv1; id=2']); // not exactly one: no record
  t.match(await sts.policyFor('dns.test'), { kind: 'policy', from: 'cache' });
  t.equal(requestsFor('dns.test'), 1);
  advance(DAY);
  txt.delete('dns.test');
  t.strictSame(await sts.policyFor('dns.test'), { kind: 'none' }, 'expired and no record');
  txt.set('dns.test', { code: 'ETIMEOUT' });
  t.strictSame(
    await sts.policyFor('dns.test'),
    { kind: 'none' },
    'a DNS failure with nothing cached cannot tell MTA-STS is published',
  );
});

void t.test('mode none is cached like any policy', async (t) => {
  answer('none.test', text('none', []));
  const { sts } = source(new Map([['none.test', 'v=STSv1; id=gone']]));
  const policy = { mode: 'none', mx: [], maxAgeSeconds: DAY, id: 'gone' };
  t.strictSame(await sts.policyFor('none.test'), { kind: 'policy', policy, from: 'fetch' });
  t.strictSame(await sts.policyFor('none.test'), { kind: 'policy', policy, from: 'cache' });
  t.equal(requestsFor('none.test'), 1);
});

void t.test('an invalid policy is a failure with its reasons, and is not cached', async (t) => {
  answer('invalid.test', text('enforce', [], 99_999_999));
  const { sts, metrics } = source(new Map([['invalid.test', 'v=STSv1; id=1']]));
  const failed = {
    kind: 'failed',
    resultType: 'sts-policy-invalid',
    error: 'max_age 99999999 exceeds 31557600; no mx',
  };
  t.strictSame(await sts.policyFor('invalid.test'), failed);
  t.strictSame(await sts.policyFor('invalid.test'), failed);
  t.equal(requestsFor('invalid.test'), 2);
  t.equal(await count(metrics, 'failed'), 2);
  const fetches = (await metrics.mtaStsFetches.get()).values;
  t.equal(fetches.find((v) => v.labels.result === 'invalid')?.value, 2);
});

void t.test('concurrent lookups for one domain share one lookup and one fetch', async (t) => {
  answer('shared.test', text('testing', ['*.shared.test']));
  const { sts, resolver } = source(new Map([['shared.test', 'v=STSv1; id=1']]));
  const results = await Promise.all([1, 2, 3, 4].map(() => sts.policyFor('shared.test')));
  t.equal(requestsFor('shared.test'), 1);
  t.strictSame(resolver.queries, ['TXT _mta-sts.shared.test']);
  for (const r of results) t.match(r, { kind: 'policy', from: 'fetch', policy: { id: '1' } });
});

void t.test('the cache is bounded: the least recently used domain is fetched again', async (t) => {
  answer('a.test', text('enforce', ['mx.a.test']));
  answer('b.test', text('enforce', ['mx.b.test']));
  const txt: TxtAnswers = new Map([
    ['a.test', 'v=STSv1; id=1'],
    ['b.test', 'v=STSv1; id=1'],
  ]);
  const { sts, metrics } = source(txt, { maxEntries: 1 });
  const before = requestsFor('a.test');
  await sts.policyFor('a.test');
  await sts.policyFor('b.test');
  t.match(await sts.policyFor('a.test'), { from: 'fetch' });
  t.equal(requestsFor('a.test') - before, 2);
  t.equal((await metrics.mtaStsCacheEntries.get()).values[0]?.value, 1);
});

void t.test('names that are not domains are not looked up', async (t) => {
  const { sts, resolver } = source(new Map());
  for (const name of ['', 'localhost', '[127.0.0.1]', 'a..test', 'bad_label.test'])
    t.strictSame(await sts.policyFor(name), { kind: 'none' }, JSON.stringify(name));
  t.strictSame(resolver.queries, []);
});

void t.test('with a state file the cache survives a restart', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mta-sts-source-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const statePath = join(dir, 'mta-sts.json');
  const txt: TxtAnswers = new Map([['kept.test', 'v=STSv1; id=7']]);
  answer('kept.test', text('enforce', ['mx.kept.test']));
  const first = source(txt, { statePath });
  t.match(await first.sts.policyFor('kept.test'), { from: 'fetch' });
  await first.sts.flush();

  answer('kept.test', { status: 503, contentType: 'text/plain', body: 'down' });
  const second = source(txt, { statePath });
  t.equal((await second.metrics.mtaStsCacheEntries.get()).values[0]?.value, 1, 'loaded');
  t.match(await second.sts.policyFor('kept.test'), {
    kind: 'policy',
    from: 'cache',
    policy: { id: '7', mx: ['mx.kept.test'] },
  });
  t.equal(requestsFor('kept.test'), 1, 'not fetched again after the restart');
});

void t.test('a corrupt state file is logged and ignored', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mta-sts-source-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const statePath = join(dir, 'mta-sts.json');
  await writeFile(statePath, 'not json at all');
  const warnings: string[] = [];
  const logger = { info: () => undefined, warn: (_o: object, msg: string) => warnings.push(msg) };
  answer('corrupt.test', text('enforce', ['mx.corrupt.test']));
  const { sts } = source(new Map([['corrupt.test', 'v=STSv1; id=1']]), {
    statePath,
    logger: logger as unknown as NonNullable<MtaStsSourceDeps['logger']>,
  });
  t.strictSame(warnings, ['MTA-STS state file ignored; cache empty']);
  t.match(await sts.policyFor('corrupt.test'), { kind: 'policy', from: 'fetch' });
  await sts.flush();
  t.match(
    await source(new Map(), { statePath }).sts.policyFor('corrupt.test'),
    { from: 'cache' },
    'the file is good again after the next write',
  );
});
