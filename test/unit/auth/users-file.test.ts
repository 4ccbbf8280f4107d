// The users file: name:hash lines with every bad line reported, one answer for unknown users and wrong passwords, reload on change keeping the last good file.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { hashPassword } from '../../../src/auth/password-hash.js';
import { parseUsers, UsersFile } from '../../../src/auth/users-file.js';

const FAST = { N: 1024, r: 8, p: 1 };

void t.test('parsing reports every bad line with its number', async (t) => {
  const good = await hashPassword('pw', FAST);
  const r = parseUsers(
    `# comment\n\nalice:${good}\nbob\nca rol:${good}\ndave:not-a-hash\nalice:${good}\n`,
  );
  t.same([...r.users.keys()], ['alice']);
  t.same(r.errors, [
    'line 4: expected name:hash',
    'line 5: expected name:hash',
    'line 6: user "dave": not a hash made by hash-password',
    'line 7: user "alice" appears twice',
  ]);
});

void t.test('verify, unknown users, reload', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'users-'));
  const path = join(dir, 'users.txt');
  await writeFile(path, `alice:${await hashPassword('alice-pw', FAST)}\n`);
  const users = await UsersFile.load(path);
  t.teardown(() => users.close());
  t.equal(await users.verify('alice', 'alice-pw'), true);
  t.equal(await users.verify('alice', 'wrong'), false);
  t.equal(await users.verify('nobody', 'alice-pw'), false, 'unknown user: the same false');
  t.equal(await users.verify('Alice', 'alice-pw'), false, 'names are exact');

  await writeFile(path, `bob:${await hashPassword('bob-pw', FAST)}\n`);
  t.same(await users.reload(), { ok: true, errors: [] });
  t.equal(await users.verify('bob', 'bob-pw'), true);
  t.equal(await users.verify('alice', 'alice-pw'), false, 'alice was removed');

  await writeFile(path, 'bob:garbage\n');
  t.same(await users.reload(), {
    ok: false,
    errors: ['line 1: user "bob": not a hash made by hash-password'],
  });
  t.equal(await users.verify('bob', 'bob-pw'), true, 'a broken file never replaces a good one');
});

void t.test('a change on disk is picked up by the watcher', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'users-'));
  const path = join(dir, 'users.txt');
  await writeFile(path, `alice:${await hashPassword('a', FAST)}\n`);
  const users = await UsersFile.load(path);
  t.teardown(() => users.close());
  // The watcher does not keep a process alive by itself (a server's sockets do): this timer does.
  const alive = setInterval(() => undefined, 1000);
  t.teardown(() => clearInterval(alive));
  const reloaded = new Promise<number>((resolve) =>
    users.watch({ reloaded: resolve, reloadFailed: () => undefined }, 50),
  );
  await new Promise((r) => setTimeout(r, 100));
  await writeFile(
    path,
    `alice:${await hashPassword('a', FAST)}\ncarol:${await hashPassword('c', FAST)}\n`,
  );
  t.equal(await reloaded, 2);
  t.equal(await users.verify('carol', 'c'), true);
});

void t.test('a bad file refuses to load, naming the file and the lines', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'users-'));
  const path = join(dir, 'users.txt');
  await writeFile(path, 'x\n');
  await t.rejects(UsersFile.load(path), { message: `${path}: line 1: expected name:hash` });
});
