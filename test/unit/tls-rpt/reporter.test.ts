// Shows the daily reporter on an injected clock: nothing for the day in progress, each ended day written once as one gzip report per domain (at start-up too), a failed write retried.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { FileTlsRptStore } from '../../../src/tls-rpt/file-store.js';
import { TlsRptReporter, type ReporterOptions } from '../../../src/tls-rpt/reporter.js';
import { DAY_EVENTS, ok } from './events.js';

const IDENTITY = { organizationName: 'Relay Org', contactInfo: 'tls-reports@relay.example' };

/** A resolver that must not be asked: reports are not submitted in these tests. */
const noDns = {
  resolveTxt: () => Promise.reject(new Error('no DNS lookup expected')),
  resolve4: () => Promise.reject(new Error('no DNS lookup expected')),
  resolve6: () => Promise.reject(new Error('no DNS lookup expected')),
  // resolve4/resolve6 have `{ ttl: true }` overloads the reporter never uses.
} as unknown as ReporterOptions['resolver'];

async function setup(start: string) {
  const root = await mkdtemp(join(tmpdir(), 'tls-rpt-reporter-'));
  const clock = { now: new Date(start) };
  const now = () => clock.now;
  const store = await FileTlsRptStore.open({
    directory: join(root, 'state'),
    flushIntervalMs: 0,
    now,
  });
  const reports = join(root, 'reports');
  const reporter = new TlsRptReporter({
    store,
    reportDirectory: reports,
    identity: IDENTITY,
    submit: false,
    resolver: noDns,
    checkIntervalMs: 0,
    now,
  });
  return { root, clock, store, reports, reporter };
}

async function reportIn(dir: string, name: string): Promise<unknown> {
  return JSON.parse(gunzipSync(await readFile(join(dir, name))).toString('utf8'));
}

void t.test('the day in progress is not reported; after midnight UTC it is, once', async (t) => {
  const { clock, store, reports, reporter } = await setup('2024-05-01T10:00:00Z');
  for (const e of DAY_EVENTS) store.record(e, clock.now);
  t.strictSame(await reporter.tick(), { written: [], submitted: 0, failed: 0 });

  clock.now = new Date('2024-05-01T23:59:59.999Z');
  t.strictSame((await reporter.tick()).written, [], 'the last millisecond is still the day');

  clock.now = new Date('2024-05-02T00:00:00Z');
  store.record(ok('a.test'), clock.now);
  const names = [
    'relay.example!a.test!1714521600!1714607999.json.gz',
    'relay.example!b.test!1714521600!1714607999.json.gz',
  ];
  t.strictSame(await reporter.tick(), { written: names, submitted: 0, failed: 0 });
  t.strictSame((await readdir(reports)).sort(), names, 'the files, and no temporary one');
  const a = (await reportIn(reports, names[0] as string)) as {
    'date-range': unknown;
    policies: Array<{ summary: unknown }>;
  };
  t.strictSame(a['date-range'], {
    'start-datetime': '2024-05-01T00:00:00Z',
    'end-datetime': '2024-05-01T23:59:59Z',
  });
  t.strictSame(
    a.policies[0]?.summary,
    { 'total-successful-session-count': 3, 'total-failure-session-count': 3 },
    'the session of the new day is not in it',
  );

  t.strictSame((await reporter.tick()).written, [], 'not written twice');
  clock.now = new Date('2024-05-03T00:00:30Z');
  t.strictSame((await reporter.tick()).written, [
    'relay.example!a.test!1714608000!1714694399.json.gz',
  ]);
  await reporter.close();
  await store.close();
});

void t.test('at start-up the ended days not yet reported are written', async (t) => {
  const { root, clock, store } = await setup('2024-04-29T12:00:00Z');
  store.record(ok('a.test'), clock.now);
  store.record(ok('b.test'), new Date('2024-04-30T12:00:00Z'));
  store.record(ok('c.test'), new Date('2024-05-02T08:00:00Z'));
  await store.close();

  // A restart on May 2: April 29 and 30 ended while the relay was down.
  const now = () => new Date('2024-05-02T09:00:00Z');
  const again = await FileTlsRptStore.open({
    directory: join(root, 'state'),
    flushIntervalMs: 0,
    now,
  });
  const reports = join(root, 'reports');
  const reporter = new TlsRptReporter({
    store: again,
    reportDirectory: reports,
    identity: IDENTITY,
    submit: false,
    resolver: noDns,
    checkIntervalMs: 0,
    now,
  });
  t.strictSame((await reporter.start()).written, [
    'relay.example!a.test!1714348800!1714435199.json.gz',
    'relay.example!b.test!1714435200!1714521599.json.gz',
  ]);
  await reporter.close();
  await again.close();
});

void t.test('reports that cannot be written are retried at the next check', async (t) => {
  const { clock, store, reports, reporter } = await setup('2024-05-01T10:00:00Z');
  store.record(ok('a.test'), clock.now);
  await writeFile(reports, 'a file where the report directory should be');
  clock.now = new Date('2024-05-02T00:00:10Z');
  t.strictSame((await reporter.tick()).written, []);
  t.strictSame(
    await store.unreportedDays('2024-05-02'),
    ['2024-05-01'],
    'the claim was given back',
  );
  await rm(reports);
  t.strictSame((await reporter.tick()).written, [
    'relay.example!a.test!1714521600!1714607999.json.gz',
  ]);
  await reporter.close();
  await store.close();
});
