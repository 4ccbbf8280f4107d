// Users-file hashes: scrypt with parameters inside the string, verified in constant time, hostile parameters refused.
import t from 'tap';
import { hashPassword, parseHash, verifyPassword } from '../../../src/auth/password-hash.js';

void t.test('a hash verifies its password and nothing else', async (t) => {
  const hash = await hashPassword('correct horse', { N: 1024, r: 8, p: 1 });
  t.match(hash, /^scrypt\$N=1024,r=8,p=1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
  const parsed = parseHash(hash);
  if (!parsed) throw new Error('unparsed');
  t.equal(await verifyPassword('correct horse', parsed), true);
  t.equal(await verifyPassword('correct horse ', parsed), false);
  t.equal(await verifyPassword('', parsed), false);
  t.not(
    await hashPassword('correct horse', { N: 1024, r: 8, p: 1 }),
    hash,
    'salted: two hashes differ',
  );
});

void t.test('the default parameters', async (t) => {
  t.match(await hashPassword('x'), /^scrypt\$N=32768,r=8,p=1\$/);
});

void t.test('strings that are not our hashes, or ask for absurd work, are refused', (t) => {
  const salt = Buffer.alloc(16, 1).toString('base64');
  const key = Buffer.alloc(32, 2).toString('base64');
  t.ok(parseHash(`scrypt$N=16384,r=8,p=1$${salt}$${key}`));
  for (const bad of [
    '',
    'plaintext-password',
    `$2b$10$abcdefghijklmnopqrstuv`,
    `scrypt$N=16385,r=8,p=1$${salt}$${key}`,
    `scrypt$N=1073741824,r=8,p=1$${salt}$${key}`,
    `scrypt$N=16384,r=64,p=1$${salt}$${key}`,
    `scrypt$N=16384,r=8,p=1$${salt}$`,
    `scrypt$N=16384,r=8,p=1$AA==$${key}`,
  ]) {
    t.equal(parseHash(bad), undefined, bad);
  }
  t.end();
});
