// Shows the per-instance store: counts survive a restart through its day files, a claimed day takes no more sessions and is not offered again, damaged files and old days are handled.
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { readDayFile } from '../../../src/tls-rpt/day-file.js';
import { FileTlsRptStore } from '../../../src/tls-rpt/file-store.js';
import { DAY_EVENTS, expired, ok } from './events.js';

const MAY_1 = new Date('2024-05-01T10:00:00Z');
const MAY_2 = new Date('2024-05-02T10:00:00Z');

async function directory(): Promise<string> {
  return join(await mkdtemp(join(tmpdir(), 'tls-rpt-store-')), 'tls-rpt');
}

function open(dir: string, now: () => Date = () => MAY_2) {
  return FileTlsRptStore.open({ directory: dir, flushIntervalMs: 0, now });
}

void t.test('counts written on close are read back by a new store', async (t) => {
  const dir = await directory();
  const store = await open(dir);
  for (const e of DAY_EVENTS) store.record(e, MAY_1);
  store.record(ok('c.test'), MAY_2);
  const before = await store.day('2024-05-01');
  await store.close();
  t.strictSame(
    await readdir(dir),
    ['2024-05-01.json', '2024-05-02.json'],
    'no temporary file left',
  );

  const again = await open(dir);
  t.strictSame(await again.day('2024-05-01'), before);
  t.strictSame(
    (await again.day('2024-05-02')).map((d) => d.policyDomain),
    ['c.test'],
  );
  again.record(expired, MAY_1);
  t.equal((await again.day('2024-05-01'))[0]?.policies[0]?.failed, 4, 'counting goes on');
  await again.close();
});

void t.test('flush() writes what a reader (the CLI) sees, the store still open', async (t) => {
  const dir = await directory();
  const store = await open(dir);
  store.record(ok('a.test'), MAY_1);
  t.equal(await readDayFile(dir, '2024-05-01'), undefined, 'nothing written before a flush');
  await store.flush();
  const file = await readDayFile(dir, '2024-05-01');
  t.equal(file?.reported, false);
  t.equal(file?.domains[0]?.policies[0]?.successful, 1);
  await store.close();
});

void t.test('the days to report: before the given day, with data, not claimed', async (t) => {
  const dir = await directory();
  const store = await open(dir);
  store.record(ok('a.test'), new Date('2024-04-30T23:59:59Z'));
  store.record(ok('a.test'), MAY_1);
  store.record(ok('a.test'), MAY_2);
  t.strictSame(await store.unreportedDays('2024-05-02'), ['2024-04-30', '2024-05-01']);
  t.equal(await store.claimDay('2024-04-30'), true);
  t.equal(await store.claimDay('2024-04-30'), false, 'a day is claimed once');
  t.strictSame(await store.unreportedDays('2024-05-02'), ['2024-05-01']);
  t.equal((await readDayFile(dir, '2024-04-30'))?.reported, true, 'the claim is on disk at once');

  store.record(ok('a.test'), new Date('2024-04-30T12:00:00Z'));
  t.equal(
    (await store.day('2024-04-30'))[0]?.policies[0]?.successful,
    1,
    'a claimed day takes no more sessions',
  );
  await store.releaseDay('2024-04-30');
  t.strictSame(await store.unreportedDays('2024-05-02'), ['2024-04-30', '2024-05-01']);
  await store.close();

  const again = await open(dir);
  await again.claimDay('2024-05-01');
  await again.close();
  const third = await open(dir);
  t.strictSame(
    await third.unreportedDays('2024-05-03'),
    ['2024-04-30', '2024-05-02'],
    'claims survive',
  );
  await third.close();
});

void t.test('a damaged day file is ignored and left in place', async (t) => {
  const dir = await directory();
  const first = await open(dir);
  first.record(ok('a.test'), MAY_2);
  await first.close();
  await writeFile(join(dir, '2024-05-01.json'), '{"format":1,"date":"2024-05-01"');
  const errors: unknown[] = [];
  const store = await FileTlsRptStore.open({
    directory: dir,
    flushIntervalMs: 0,
    logger: { info: () => undefined, warn: () => undefined, error: (o: unknown) => errors.push(o) },
  });
  t.equal(errors.length, 1, 'logged');
  t.strictSame(await store.day('2024-05-01'), []);
  t.equal((await store.day('2024-05-02')).length, 1, 'the other days are read');
  await store.close();
  t.equal(await readFile(join(dir, '2024-05-01.json'), 'utf8'), '{"format":1,"date":"2024-05-01"');
});

void t.test(
  'reported days older than the retention are deleted; unreported ones kept',
  async (t) => {
    const dir = await directory();
    let now = new Date('2024-05-02T00:01:00Z');
    const store = await FileTlsRptStore.open({
      directory: dir,
      flushIntervalMs: 0,
      retentionDays: 2,
      now: () => now,
    });
    store.record(ok('a.test'), new Date('2024-04-20T12:00:00Z'));
    store.record(ok('a.test'), MAY_1);
    await store.claimDay('2024-05-01');
    now = new Date('2024-05-03T00:00:00Z');
    await store.flush();
    t.strictSame(
      await readdir(dir),
      ['2024-04-20.json', '2024-05-01.json'],
      'May 1 is kept for 2 days',
    );
    now = new Date('2024-05-04T00:00:00Z');
    await store.flush();
    t.strictSame(await readdir(dir), ['2024-04-20.json'], 'then deleted; April 20 never reported');
    t.strictSame(await store.day('2024-05-01'), []);
    await store.close();
  },
);

void t.test('a session after close is not counted and does not throw', async (t) => {
  const dir = await directory();
  const store = await open(dir);
  await store.close();
  store.record(ok('a.test'), MAY_1);
  t.strictSame(await store.day('2024-05-01'), []);
});
