// Shows the MTA-STS cache file: policies read back as written, expired and malformed ones skipped, a corrupt or unreadable file an empty cache, and a burst of changes written once, by rename.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { cachedPolicy, type CachedPolicy } from '../../../src/mta-sts/cache.js';
import { loadState, serialiseState, StateWriter } from '../../../src/mta-sts/state-file.js';

const entry = (id: string, fetchedAt: number, maxAgeSeconds = 100): CachedPolicy =>
  cachedPolicy({ mode: 'testing', mx: ['mx.a.test', '*.b.test'], maxAgeSeconds, id }, fetchedAt);

let dir: string;
t.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mta-sts-state-'));
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

void t.test('written policies read back in order; expired ones are left out', async (t) => {
  const path = join(dir, 'round-trip.json');
  const entries: Array<[string, CachedPolicy]> = [
    ['old.test', entry('1', 0, 10)],
    ['a.test', entry('2', 0)],
    ['b.test', entry('3', 5000)],
  ];
  await writeFile(path, serialiseState(entries));
  t.strictSame(loadState(path, 50_000), { ok: true, entries: entries.slice(1) });
});

void t.test('no file is an empty cache, not an error', (t) => {
  t.strictSame(loadState(join(dir, 'absent.json'), 0), { ok: true, entries: [] });
  t.end();
});

void t.test('a corrupt file is an empty cache with the reason', async (t) => {
  const path = join(dir, 'corrupt.json');
  await writeFile(path, '{"version":1,"policies":[{"domain":"a.te');
  const loaded = loadState(path, 0);
  t.equal(loaded.ok, false);
  t.strictSame(loaded.entries, []);
  await writeFile(path, '{"version":2,"policies":[]}');
  t.strictSame(loadState(path, 0), {
    ok: false,
    entries: [],
    error: `${path}: not a version 1 state file`,
  });
  t.equal(loadState(dir, 0).ok, false, 'a directory is unreadable, not a crash');
});

void t.test('an entry that is not a policy is skipped, the others kept', async (t) => {
  const path = join(dir, 'mixed.json');
  const good = JSON.parse(serialiseState([['a.test', entry('ok', 0)]])) as {
    policies: unknown[];
  };
  const bad = [
    null,
    { ...(good.policies[0] as object), id: 'not valid!' },
    { ...(good.policies[0] as object), mode: 'sometimes' },
    { ...(good.policies[0] as object), mx: [1] },
    { ...(good.policies[0] as object), expiresAtMs: 'later' },
  ];
  await writeFile(path, JSON.stringify({ version: 1, policies: [...bad, ...good.policies] }));
  t.strictSame(loadState(path, 0), { ok: true, entries: [['a.test', entry('ok', 0)]] });
});

void t.test('changes are written once per burst, through a renamed temporary file', async (t) => {
  const sub = await mkdtemp(join(dir, 'writer-'));
  const path = join(sub, 'state.json');
  let snapshots = 0;
  let current: Array<[string, CachedPolicy]> = [['a.test', entry('1', 0)]];
  const errors: string[] = [];
  const writer = new StateWriter(
    path,
    () => {
      snapshots++;
      return serialiseState(current);
    },
    (e) => errors.push(e),
  );
  writer.changed();
  current = [...current, ['b.test', entry('2', 0)]];
  writer.changed();
  writer.changed();
  await writer.flush();
  t.equal(snapshots, 1, 'three changes, one write');
  t.strictSame(loadState(path, 0), { ok: true, entries: current });
  t.strictSame(await readdir(sub), ['state.json'], 'no temporary file left behind');
  await writer.flush();
  t.equal(snapshots, 1, 'nothing changed, nothing written');
  t.strictSame(errors, []);
});

void t.test('a write that fails is reported, not thrown', async (t) => {
  const errors: string[] = [];
  const path = join(dir, 'no-such-dir', 'state.json');
  const writer = new StateWriter(
    path,
    () => '{}',
    (e) => errors.push(e),
  );
  writer.changed();
  await writer.flush();
  t.strictSame(errors, [`${path}: ENOENT`]);
  await t.rejects(readFile(path));
});
