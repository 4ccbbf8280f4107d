// TlsHistory: best and last level per destination, least recently seen evicted first, kept in a file across restarts, a corrupt file read as empty.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { TlsHistory } from '../../../src/history/tls-history.js';
import { passes } from '../../../src/history/command.js';

const clock = () => {
  let ms = Date.parse('2026-11-28T00:00:00Z');
  return () => new Date((ms += 1000));
};

void t.test(
  'observe returns the best level before, keeps the best and counts sessions',
  async (t) => {
    const h = await TlsHistory.open({ maxEntries: 10, now: clock() });
    t.equal(h.observe('a.test', 'verified'), undefined, 'first visit: nothing before');
    t.equal(h.observe('a.test', 'none'), 'verified');
    t.equal(h.observe('a.test', 'encrypted'), 'verified');
    t.match(h.get('a.test'), {
      best: 'verified',
      last: 'encrypted',
      firstSeen: '2026-11-28T00:00:01.000Z',
      lastSeen: '2026-11-28T00:00:03.000Z',
      sessions: { none: 1, encrypted: 1, verified: 1 },
    });
    const entry = h.get('a.test');
    t.equal(entry && passes(entry), null, 'a plaintext session passes neither encrypt nor verify');
  },
);

void t.test('bounded: the least recently seen destination goes first', async (t) => {
  const h = await TlsHistory.open({ maxEntries: 2, now: clock() });
  h.observe('a.test', 'encrypted');
  h.observe('b.test', 'encrypted');
  h.observe('a.test', 'verified');
  h.observe('c.test', 'none');
  t.same(
    h.entries().map(([d]) => d),
    ['a.test', 'c.test'],
  );
});

void t.test('persisted across restarts; a corrupt file reads as empty', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'history-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'tls-history.json');
  const first = await TlsHistory.open({ maxEntries: 10, path, now: clock() });
  first.observe('a.test', 'verified');
  await first.close();
  t.match(JSON.parse(await readFile(path, 'utf8')), {
    version: 1,
    destinations: { 'a.test': { best: 'verified' } },
  });
  const second = await TlsHistory.open({ maxEntries: 10, path });
  t.equal(second.best('a.test'), 'verified');
  await writeFile(path, '{"version":1,"destinations":{"a.test":{"best":"bogus"}}');
  const third = await TlsHistory.open({ maxEntries: 10, path });
  t.equal(third.size, 0);
});

void t.test('a failed write is retried by the next flush', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'history-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'tls-history.json');
  // A directory where the file should be: the rename fails.
  await mkdir(path);
  const h = await TlsHistory.open({ maxEntries: 10, path });
  h.observe('a.test', 'verified');
  await t.rejects(h.flush(), /EISDIR|directory/);
  await rm(path, { recursive: true });
  await h.flush();
  t.match(JSON.parse(await readFile(path, 'utf8')), { destinations: { 'a.test': {} } });
});
