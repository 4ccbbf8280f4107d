// Catalogue rows ST-02 (STARTTLS forgets the plaintext state), ST-05/ST-06 (AUTH and MAIL before TLS), PL-05 (AUTH inside a transaction), AU-01..AU-04 (failure budgets, AUTH PLAIN parsing, AUTH misc, no secrets in debug logs), LM-07/LM-08 (8-bit and UTF-8 towards a hop without the extension) and LM-09 (postmaster): exact replies on real sockets.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { hashPassword } from '../../../src/auth/password-hash.js';
import { startRawHop } from '../../support/raw-hop.js';
import { startTestRelay, type TestRelay } from '../../support/relay.js';
import { throughRawHop } from '../../support/scenario.js';
import { SmtpDialogue } from '../../support/smtp-client.js';
import { catalogueRelay, client } from './catalogue-support.js';
import { EHLO_AFTER_TLS } from '../../support/ehlo.js';

const PASSWORD = 'correct horse battery';
const b64 = (s: string): string => Buffer.from(s, 'latin1').toString('base64');
const plain = (user: string, pw: string): string => b64(`\0${user}\0${pw}`);

/** A relay with submission (587) and an mta listener with AUTH, users file alice:PASSWORD. */
async function authRelay(
  t: Test,
  options: { readonly failures?: Record<string, unknown>; readonly logLevel?: string } = {},
): Promise<{ readonly relay: TestRelay; readonly port: (name: string) => number }> {
  const hop = await startRawHop();
  t.teardown(() => hop.close());
  const dir = await mkdtemp(join(tmpdir(), 'catalogue-auth-'));
  const usersFile = join(dir, 'users.txt');
  await writeFile(usersFile, `alice:${await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 })}\n`);
  const relay = await startTestRelay({
    listeners: [
      { name: 'submission', mode: 'submission', host: '127.0.0.1', port: 0 },
      { name: 'mta', mode: 'mta', host: '127.0.0.1', port: 0, auth: true },
    ],
    auth: { usersFile, failures: { delayMs: 0, ...options.failures } },
    relay: { allowedNetworks: [], acceptDomains: ['dest.test'] },
    routes: [{ domains: ['*'], nextHop: `127.0.0.1:${hop.port}` }],
    log: { level: options.logLevel ?? 'info' },
  });
  t.teardown(() => relay.close());
  return { relay, port: (name) => relay.relay.listeners.get(name)?.port ?? 0 };
}

async function connect(t: Test, port: number): Promise<SmtpDialogue> {
  const c = await SmtpDialogue.connect(port);
  t.teardown(() => c.close());
  t.equal(await c.line(), '220 relay.test ESMTP starttls-relay');
  return c;
}

void t.test(
  'ST-02: after STARTTLS the plaintext EHLO and envelope are forgotten, no STARTTLS offered',
  async (t) => {
    const relay = await catalogueRelay(t);
    const c = await client(t, relay.port);
    t.equal(await c.send('MAIL FROM:<x@a.test>'), '250 Accepted');
    t.equal(await c.send('STARTTLS'), '220 Ready to start TLS');
    await c.upgradeRaw();
    t.equal(await c.send('MAIL FROM:<y@a.test>'), '503 Error: send HELO/EHLO first');
    c.write('EHLO client.test\r\n');
    t.same(await c.reply(), EHLO_AFTER_TLS);
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '503 Error: need MAIL command', 'no envelope');
  },
);

void t.test(
  'ST-05, ST-06: submission hides AUTH before TLS; AUTH and MAIL in clear refused, session open',
  async (t) => {
    const { port } = await authRelay(t);
    const c = await connect(t, port('submission'));
    c.write('EHLO client.test\r\n');
    const ehlo = await c.reply();
    t.notOk(
      ehlo.some((l) => /AUTH/.test(l)),
      'AUTH not advertised in clear',
    );
    t.equal(
      await c.send(`AUTH PLAIN ${plain('alice', PASSWORD)}`),
      '500 5.5.2 Error: command not recognized',
      'never checks the credentials',
    );
    t.equal(
      await c.send('MAIL FROM:<alice@origin.test>'),
      '530 5.7.0 Must issue a STARTTLS command first',
    );
    t.equal(await c.send('NOOP'), '250 OK', 'the connection stays open');
    t.ok((await c.startTls()).includes('250-AUTH PLAIN LOGIN'), 'AUTH offered once encrypted');
  },
);

void t.test('PL-05: AUTH inside a transaction is 503 5.5.1', async (t) => {
  const { port } = await authRelay(t);
  const c = await connect(t, port('mta'));
  await c.startTls();
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(
    await c.send(`AUTH PLAIN ${plain('alice', PASSWORD)}`),
    '503 5.5.1 MAIL transaction in progress',
  );
});

void t.test('AU-02: malformed AUTH PLAIN is 501 and checks nothing', async (t) => {
  const { relay, port } = await authRelay(t);
  const c = await connect(t, port('submission'));
  await c.startTls();
  t.equal(
    await c.send(`AUTH PLAIN ${b64('foo\0bad')}`),
    '501 Error: invalid userdata',
    'two fields',
  );
  t.equal(
    await c.send(`AUTH PLAIN ${b64('\0fo\ro\0x')}`),
    '501 Error: invalid userdata',
    'a control character',
  );
  t.equal(await c.send('AUTH PLAIN !!!notbase64'), '501 Error: invalid userdata');
  t.equal(await c.send('AUTH PLAIN'), '334 ');
  t.equal(await c.send('*'), '501 Authentication aborted');
  t.equal(await c.send(`AUTH PLAIN ${plain('alice', PASSWORD)}`), '235 Authentication successful');
  t.notMatch(
    await relay.metricsText(),
    /auth_attempts_total\{[^}]*outcome="failure"\} [1-9]/,
    'no malformed request reached the password check',
  );
});

void t.test(
  'AU-03: unknown and disabled mechanisms 504, AUTH after 235 503, a 20 KiB line 500',
  async (t) => {
    const { port } = await authRelay(t);
    const c = await connect(t, port('submission'));
    await c.startTls();
    t.equal(await c.send('AUTH XYZ'), '504 Error: Unrecognized authentication type');
    t.equal(await c.send('AUTH CRAM-MD5'), '504 Error: Unrecognized authentication type');
    t.equal(
      await c.send(`AUTH PLAIN ${'A'.repeat(20 * 1024)}`),
      '500 5.5.2 Error: command too long',
    );
    t.equal(
      await c.send(`AUTH PLAIN ${plain('alice', PASSWORD)}`),
      '235 Authentication successful',
    );
    t.equal(
      await c.send(`AUTH PLAIN ${plain('alice', PASSWORD)}`),
      '503 Error: No identity changes permitted',
    );
  },
);

void t.test(
  'AU-01: guesses against one user from many addresses: the same 535 5.7.8, then 454 4.7.0',
  async (t) => {
    const { relay, port } = await authRelay(t, { failures: { perUser: 3, perAddress: 100 } });
    const guesses = [
      ['127.0.0.2', 'nobody', 'unknown user'],
      ['127.0.0.3', 'alice', 'wrong password: the same reply'],
      ['127.0.0.4', 'alice', 'another address, the same user'],
      ['127.0.0.5', 'alice', 'a third address'],
    ] as const;
    for (const [i, [from, user, why]] of guesses.entries()) {
      const c = await SmtpDialogue.connect(port('submission'), '127.0.0.1', from);
      t.teardown(() => c.close());
      await c.line();
      await c.startTls();
      t.equal(
        await c.send(`AUTH PLAIN ${plain(user, `guess${i}`)}`),
        '535 5.7.8 Authentication credentials invalid',
        why,
      );
    }
    const next = await SmtpDialogue.connect(port('submission'), '127.0.0.1', '127.0.0.6');
    t.teardown(() => next.close());
    await next.line();
    await next.startTls();
    t.equal(
      await next.send(`AUTH PLAIN ${plain('alice', 'guess4')}`),
      '454 4.7.0 Too many authentication failures, try again later',
      'the per-user budget follows the user across addresses',
    );
    t.equal(
      await next.send(`AUTH PLAIN ${plain('alice', PASSWORD)}`),
      '454 4.7.0 Too many authentication failures, try again later',
      'not even the right password is checked',
    );
    t.match(
      await relay.metricsText(),
      /auth_attempts_total\{listener="submission",mechanism="PLAIN",outcome="throttled"\} 2/,
    );
  },
);

void t.test('AU-04: no password or SASL blob in trace-level logs', async (t) => {
  const { relay, port } = await authRelay(t, { logLevel: 'trace' });
  const c = await connect(t, port('submission'));
  await c.startTls();
  t.equal(
    await c.send(`AUTH PLAIN ${plain('alice', 'wrong-pw')}`),
    '535 5.7.8 Authentication credentials invalid',
  );
  t.equal(await c.send('AUTH LOGIN'), `334 ${b64('Username:')}`);
  t.equal(await c.send(b64('alice')), `334 ${b64('Password:')}`);
  t.equal(await c.send(b64(PASSWORD)), '235 Authentication successful');
  t.equal(await c.send('QUIT'), '221 Bye');
  await c.waitClosed();
  await new Promise((resolve) => setTimeout(resolve, 50));
  const logs = relay.rawLogs();
  t.ok(logs.length > 0, 'trace logging produced output');
  for (const secret of [PASSWORD, b64(PASSWORD), 'wrong-pw', plain('alice', 'wrong-pw')])
    t.notOk(logs.includes(secret), `never ${JSON.stringify(secret.slice(0, 10))}…`);
});

void t.test('LM-07: BODY=8BITMIME towards a hop without 8BITMIME is 554 5.6.3', async (t) => {
  const { hop, c } = await throughRawHop(
    t,
    (port) => ({ routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${port}` }] }),
    { ehlo: ['raw.test', 'SIZE 10000000'] },
  );
  t.equal(await c.send('MAIL FROM:<a@origin.test> BODY=8BITMIME'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<b@dest.test>'), '554 5.6.3 Next hop does not support 8BITMIME');
  t.notOk(
    (hop.commands[0] ?? []).some((l) => l.startsWith('MAIL')),
    'no MAIL sent to the 7-bit hop',
  );
});

void t.test('LM-07: raw 8-bit content without BODY towards a 7-bit hop is refused', async (t) => {
  const { hop, c } = await throughRawHop(
    t,
    (port) => ({ routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${port}` }] }),
    { ehlo: ['raw.test', 'SIZE 10000000'] },
  );
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
  t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
  t.equal(
    await c.send('Subject: s\r\n\r\ncaf\xc3\xa9\r\n.'),
    '554 5.6.3 Next hop does not support 8BITMIME',
  );
  t.equal(hop.bodies.length, 0);
});

void t.test(
  'LM-08: a UTF-8 sender with SMTPUTF8 towards a hop without it is 553 5.6.7',
  async (t) => {
    const { hop, c } = await throughRawHop(
      t,
      (port) => ({ routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${port}` }] }),
      { ehlo: ['raw.test', '8BITMIME'] },
    );
    t.equal(await c.send('MAIL FROM:<jörg@exämple.test> SMTPUTF8'), '250 Accepted');
    t.equal(
      await c.send('RCPT TO:<b@dest.test>'),
      '553 5.6.7 Next hop does not support SMTPUTF8 for this address',
    );
    t.notOk((hop.commands[0] ?? []).some((l) => l.startsWith('MAIL')));
  },
);

void t.test('LM-08: a UTF-8 address without the SMTPUTF8 parameter is 553 5.6.7', async (t) => {
  const { hop, c } = await throughRawHop(t, (port) => ({
    routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${port}` }],
  }));
  const refused = '553 5.6.7 Non-ASCII address requires the SMTPUTF8 parameter';
  t.equal(await c.send('MAIL FROM:<jörg@exämple.test>'), refused, 'the sender');
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<jörg@dest.test>'), refused, 'a recipient, MAIL without SMTPUTF8');
  t.same(hop.commands, [], 'nothing reached the next hop');
});

void t.test('LM-09: RCPT TO:<postmaster> (no domain) is accepted from anyone', async (t) => {
  const { hop, c } = await throughRawHop(t, (port) => ({
    // An untrusted client: postmaster must be reachable anyway (RFC 5321 §4.5.1).
    relay: { allowedNetworks: [], acceptDomains: [] },
    routes: [{ domains: ['relay.test'], nextHop: `127.0.0.1:${port}` }],
  }));
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<postmaster>'), '250 Accepted');
  t.ok((hop.commands[0] ?? []).includes('RCPT TO:<postmaster>'), 'passed on unqualified');
});

void t.test('LM-09: RCPT TO:<postmaster@dest.test> is relayed like any recipient', async (t) => {
  const { hop, c } = await throughRawHop(t, (port) => ({
    relay: { allowedNetworks: [], acceptDomains: ['dest.test'] },
    routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${port}` }],
  }));
  t.equal(await c.send('MAIL FROM:<>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<Postmaster@dest.test>'), '250 Accepted');
  t.ok((hop.commands[0] ?? []).includes('RCPT TO:<Postmaster@dest.test>'));
});
