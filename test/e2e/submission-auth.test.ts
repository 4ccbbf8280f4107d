// Submission on 587 (STARTTLS) and 465 (implicit TLS): AUTH only after TLS, the users file, the same 535 for every bad credential, ESMTPSA, and no password in any log.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { hashPassword } from '../../src/auth/password-hash.js';
import { startRawHop } from '../support/raw-hop.js';
import { startTestRelay, type TestRelay } from '../support/relay.js';
import { SmtpDialogue } from '../support/smtp-client.js';

const PASSWORD = 'correct horse battery';
const plain = (user: string, pw: string): string =>
  Buffer.from(`\0${user}\0${pw}`).toString('base64');
const b64 = (s: string): string => Buffer.from(s).toString('base64');

async function submissionRelay(t: Test, failures: Record<string, unknown> = {}) {
  const hop = await startRawHop();
  t.teardown(() => hop.close());
  const dir = await mkdtemp(join(tmpdir(), 'auth-'));
  const usersFile = join(dir, 'users.txt');
  await writeFile(usersFile, `alice:${await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 })}\n`);
  const relay = await startTestRelay({
    listeners: [
      { name: 'submission', mode: 'submission', host: '127.0.0.1', port: 0 },
      { name: 'submissions', mode: 'submissions', host: '127.0.0.1', port: 0 },
      { name: 'mta', mode: 'mta', host: '127.0.0.1', port: 0, auth: true },
    ],
    auth: { usersFile, failures: { delayMs: 0, ...failures } },
    relay: { allowedNetworks: [], acceptDomains: [] },
    routes: [{ domains: ['*'], nextHop: `127.0.0.1:${hop.port}` }],
  });
  t.teardown(() => relay.close());
  const port = (name: string): number => relay.relay.listeners.get(name)?.port ?? 0;
  return { hop, relay, port };
}

async function connect(t: Test, port: number): Promise<SmtpDialogue> {
  const c = await SmtpDialogue.connect(port);
  t.teardown(() => c.close());
  await c.line();
  return c;
}

function assertNoSecrets(t: Test, relay: TestRelay): void {
  const logs = relay.rawLogs();
  for (const secret of [
    PASSWORD,
    plain('alice', PASSWORD),
    b64(PASSWORD),
    plain('alice', 'wrong-pw'),
    'wrong-pw',
  ]) {
    t.notOk(logs.includes(secret), `logs never contain ${JSON.stringify(secret.slice(0, 12))}…`);
  }
}

void t.test('587: nothing before TLS, then AUTH, then relaying anywhere as ESMTPSA', async (t) => {
  const { hop, relay, port } = await submissionRelay(t);
  const c = await connect(t, port('submission'));
  c.write('EHLO client.test\r\n');
  const before = await c.reply();
  t.notOk(
    before.some((l) => l.includes('AUTH')),
    'AUTH not advertised before TLS',
  );
  t.ok(before.includes('250-STARTTLS'));
  t.equal(
    await c.send(`AUTH PLAIN ${plain('alice', PASSWORD)}`),
    '500 5.5.2 Error: command not recognized',
    'AUTH refused in clear',
  );
  t.equal(
    await c.send('MAIL FROM:<alice@origin.test>'),
    '530 5.7.0 Must issue a STARTTLS command first',
  );
  const after = await c.startTls();
  t.ok(after.includes('250-AUTH PLAIN LOGIN'), 'AUTH advertised after TLS');
  t.equal(await c.send('MAIL FROM:<alice@origin.test>'), '530 5.7.0 Authentication required');
  t.equal(
    await c.send(`AUTH PLAIN ${plain('alice', 'wrong-pw')}`),
    '535 5.7.8 Authentication credentials invalid',
  );
  t.equal(
    await c.send(`AUTH PLAIN ${plain('mallory', PASSWORD)}`),
    '535 5.7.8 Authentication credentials invalid',
    'unknown user: the same reply',
  );
  t.equal(await c.send(`AUTH PLAIN ${plain('alice', PASSWORD)}`), '235 Authentication successful');
  t.equal(
    await c.send(`AUTH PLAIN ${plain('alice', PASSWORD)}`),
    '503 Error: No identity changes permitted',
  );
  t.equal(await c.send('MAIL FROM:<alice@origin.test>'), '250 Accepted');
  t.equal(
    await c.send('RCPT TO:<bob@anywhere.test>'),
    '250 Accepted',
    'authenticated users relay to any domain',
  );
  t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
  t.equal(await c.send('Subject: s\r\n\r\nbody\r\n.'), '250 2.0.0 Ok: queued');
  t.match(
    hop.bodies[0]?.toString() ?? '',
    /^Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby relay\.test \(starttls-relay\) with ESMTPSA id /,
  );
  await new Promise((r) => setTimeout(r, 50));
  t.match(relay.transactions()[0], { listener: 'submission', user: 'alice', outcome: 'delivered' });
  const metrics = await relay.metricsText();
  t.match(
    metrics,
    /starttls_relay_auth_attempts_total\{listener="submission",mechanism="PLAIN",outcome="success"\} 1/,
  );
  t.match(
    metrics,
    /starttls_relay_auth_attempts_total\{listener="submission",mechanism="PLAIN",outcome="failure"\} 2/,
  );
  assertNoSecrets(t, relay);
});

void t.test('465: implicit TLS and AUTH LOGIN', async (t) => {
  const { hop, relay, port } = await submissionRelay(t);
  const c = await SmtpDialogue.connectTls(port('submissions'));
  t.teardown(() => c.close());
  t.equal(await c.line(), '220 relay.test ESMTP starttls-relay');
  c.write('EHLO client.test\r\n');
  const ehlo = await c.reply();
  t.ok(ehlo.includes('250-AUTH PLAIN LOGIN'));
  t.notOk(
    ehlo.some((l) => l.includes('STARTTLS')),
    'no STARTTLS inside TLS',
  );
  t.equal(await c.send('AUTH LOGIN'), `334 ${b64('Username:')}`);
  t.equal(await c.send(b64('alice')), `334 ${b64('Password:')}`);
  t.equal(await c.send(b64(PASSWORD)), '235 Authentication successful');
  t.equal(await c.send('MAIL FROM:<alice@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<bob@anywhere.test>'), '250 Accepted');
  t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
  t.equal(await c.send('Subject: s\r\n\r\nbody\r\n.'), '250 2.0.0 Ok: queued');
  t.equal(hop.bodies.length, 1);
  assertNoSecrets(t, relay);
});

void t.test('AUTH syntax and state errors', async (t) => {
  const { port } = await submissionRelay(t);
  const c = await connect(t, port('mta'));
  await c.startTls();
  t.equal(await c.send('AUTH XYZ'), '504 Error: Unrecognized authentication type');
  t.equal(await c.send('AUTH PLAIN !!!notbase64'), '501 Error: invalid userdata');
  t.equal(await c.send('AUTH PLAIN'), '334 ');
  t.equal(await c.send('*'), '501 Authentication aborted');
  t.equal(
    await c.send('MAIL FROM:<a@origin.test>'),
    '250 Accepted',
    'AUTH stays optional on the mta listener',
  );
  t.equal(
    await c.send(`AUTH PLAIN ${plain('alice', PASSWORD)}`),
    '503 5.5.1 MAIL transaction in progress',
  );
});

void t.test(
  'hammering one account hits the budget: 454, and the right password no longer helps',
  async (t) => {
    const { relay, port } = await submissionRelay(t, { perUser: 3, perAddress: 100 });
    const c = await connect(t, port('submission'));
    await c.startTls();
    for (let i = 0; i < 3; i++)
      t.equal(
        await c.send(`AUTH PLAIN ${plain('alice', `guess${i}`)}`),
        '535 5.7.8 Authentication credentials invalid',
      );
    t.equal(
      await c.send(`AUTH PLAIN ${plain('alice', 'guess3')}`),
      '454 4.7.0 Too many authentication failures, try again later',
    );
    t.equal(
      await c.send(`AUTH PLAIN ${plain('ALICE', PASSWORD)}`),
      '454 4.7.0 Too many authentication failures, try again later',
      'the correct password is not even checked',
    );
    t.match(
      await relay.metricsText(),
      /starttls_relay_auth_attempts_total\{listener="submission",mechanism="PLAIN",outcome="throttled"\} 2/,
    );
  },
);

void t.test('the per-address budget can disconnect', async (t) => {
  const { port } = await submissionRelay(t, {
    perAddress: 2,
    perUser: 100,
    whenExhausted: 'disconnect',
  });
  const c = await connect(t, port('submission'));
  await c.startTls();
  t.equal(
    await c.send(`AUTH PLAIN ${plain('u1', 'x')}`),
    '535 5.7.8 Authentication credentials invalid',
  );
  t.equal(
    await c.send(`AUTH PLAIN ${plain('u2', 'x')}`),
    '535 5.7.8 Authentication credentials invalid',
  );
  t.equal(
    await c.send(`AUTH PLAIN ${plain('u3', 'x')}`),
    '421 4.7.0 Too many authentication failures, closing connection',
  );
  await c.waitClosed();
  t.ok(c.closed);
});
