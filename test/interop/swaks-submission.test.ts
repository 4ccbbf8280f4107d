// swaks as a real submission client: AUTH PLAIN and LOGIN over STARTTLS (587) and implicit TLS (465), nothing before TLS, 535 for a bad password, 454 once the budget is spent, and no password in any log.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { hashPassword } from '../../src/auth/password-hash.js';
import { startRawHop, type RawHop } from '../support/raw-hop.js';
import { startTestRelay, type TestRelay } from '../support/relay.js';
import { describeRun, requireTool, runTool } from '../support/tools.js';

const swaksPath = requireTool(t, 'swaks', 'swaks');

const PASSWORD = 'correct horse battery';
const WRONG = 'wrong-horse-guess';
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const plain = (user: string, pw: string): string => b64(`\0${user}\0${pw}`);

/** The relay's Received header for a message submitted over TLS by an authenticated client. */
const RECEIVED_ESMTPSA =
  /^Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby relay\.test \(starttls-relay\) with ESMTPSA id [0-9a-v]+\.1\r\n\t\(version=TLSv1\.3, cipher=TLS_AES_128_GCM_SHA256\);\r\n/;

interface Setup {
  readonly hop: RawHop;
  readonly relay: TestRelay;
  readonly port: (listener: string) => number;
}

/** A raw next hop for every domain, and a relay with a 587 and a 465 listener; alice's password hashed fast. */
async function setup(t: Test, failures: Record<string, unknown> = {}): Promise<Setup> {
  const hop = await startRawHop();
  t.teardown(() => hop.close());
  const dir = await mkdtemp(join(tmpdir(), 'swaks-auth-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const usersFile = join(dir, 'users.txt');
  await writeFile(usersFile, `alice:${await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 })}\n`);
  const relay = await startTestRelay({
    listeners: [
      { name: 'submission', mode: 'submission', host: '127.0.0.1', port: 0 },
      { name: 'submissions', mode: 'submissions', host: '127.0.0.1', port: 0 },
    ],
    auth: { usersFile, failures: { delayMs: 0, ...failures } },
    relay: { allowedNetworks: [], acceptDomains: [] },
    routes: [{ domains: ['*'], nextHop: `127.0.0.1:${hop.port}` }],
    // Every level logged, so the no-password checks cover debug and trace lines too.
    log: { level: 'trace' },
  });
  t.teardown(() => relay.close());
  const port = (listener: string): number => {
    const p = relay.relay.listeners.get(listener)?.port;
    if (p === undefined) throw new Error(`no listener ${listener}`);
    return p;
  };
  return { hop, relay, port };
}

/** swaks against one listener, stdin closed, bounded by its own timeout and runTool's. */
async function swaks(port: number, args: readonly string[]) {
  if (swaksPath === undefined) throw new Error('unreachable: swaks checked above');
  const argv = [
    '--server',
    `127.0.0.1:${port}`,
    '--ehlo',
    'client.test',
    '--from',
    'alice@origin.test',
    '--to',
    'bob@anywhere.test',
    '--timeout',
    '30',
    ...args,
  ];
  const run = await runTool(swaksPath, argv, { timeoutMs: 60_000 });
  return { ...run, transcript: run.stdout, describe: describeRun(swaksPath, argv, run) };
}

const auth = (mechanism: string, password: string): string[] => [
  '--auth',
  mechanism,
  '--auth-user',
  'alice',
  '--auth-password',
  password,
];

/** The transaction line is written as the final reply goes out: wait for it, boundedly. */
async function transactions(relay: TestRelay, count: number) {
  for (let i = 0; i < 50 && relay.transactions().length < count; i += 1) await sleep(100);
  return relay.transactions();
}

/** Neither password, in clear or in any encoding AUTH PLAIN or LOGIN sent it, is ever logged. */
function assertNoSecrets(t: Test, relay: TestRelay): void {
  const logs = relay.rawLogs();
  t.ok(logs.length > 0, 'the relay logged something');
  for (const pw of [PASSWORD, WRONG]) {
    const forms = {
      password: pw,
      'base64 password (AUTH LOGIN)': b64(pw),
      'PLAIN blob': `\0alice\0${pw}`,
      'PLAIN blob, JSON-escaped': JSON.stringify(`\0alice\0${pw}`).slice(1, -1),
      'base64 PLAIN blob (AUTH PLAIN)': plain('alice', pw),
    };
    for (const [name, secret] of Object.entries(forms)) {
      t.notOk(logs.includes(secret), `logs never contain the ${name} of ${JSON.stringify(pw)}`);
    }
  }
}

if (swaksPath !== undefined) {
  void t.test('587: STARTTLS, AUTH PLAIN then AUTH LOGIN, delivered as ESMTPSA', async (t) => {
    const { hop, relay, port } = await setup(t);

    const viaPlain = await swaks(port('submission'), ['--tls', ...auth('PLAIN', PASSWORD)]);
    t.equal(viaPlain.code, 0, 'swaks exits 0 with AUTH PLAIN', { transcript: viaPlain.describe });
    t.match(viaPlain.transcript, /^<- {2}250-STARTTLS$/m, 'STARTTLS offered in clear');
    t.match(viaPlain.transcript, /^<~ {2}250-AUTH PLAIN LOGIN$/m, 'AUTH offered after TLS');
    t.match(
      viaPlain.transcript,
      new RegExp(
        `^ ~> AUTH PLAIN ${plain('alice', PASSWORD)}\\n<~ {2}235 Authentication successful$`,
        'm',
      ),
    );
    t.match(viaPlain.transcript, /^ ~> MAIL FROM:<alice@origin\.test>\n<~ {2}250 Accepted$/m);
    t.match(viaPlain.transcript, /^ ~> RCPT TO:<bob@anywhere\.test>\n<~ {2}250 Accepted$/m);
    t.match(
      viaPlain.transcript,
      /^ ~> \.\n<~ {2}250 2\.0\.0 Ok: queued$/m,
      "the next hop's final reply mirrored",
    );

    const viaLogin = await swaks(port('submission'), ['--tls', ...auth('LOGIN', PASSWORD)]);
    t.equal(viaLogin.code, 0, 'swaks exits 0 with AUTH LOGIN', { transcript: viaLogin.describe });
    t.match(
      viaLogin.transcript,
      new RegExp(
        [
          '^ ~> AUTH LOGIN',
          `<~ {2}334 ${b64('Username:')}`,
          ` ~> ${b64('alice')}`,
          `<~ {2}334 ${b64('Password:')}`,
          ` ~> ${b64(PASSWORD)}`,
          '<~ {2}235 Authentication successful$',
        ].join('\\n'),
        'm',
      ),
    );
    t.match(viaLogin.transcript, /^ ~> \.\n<~ {2}250 2\.0\.0 Ok: queued$/m);

    t.equal(hop.bodies.length, 2, 'the next hop got both messages');
    for (const body of hop.bodies) {
      const text = body.toString('utf8');
      t.match(text, RECEIVED_ESMTPSA, 'Received header says ESMTPSA');
      t.match(text, /^X-Mailer: swaks /m, "swaks' message behind it");
    }
    const relayed = hop.commands.flat();
    t.ok(relayed.includes('RCPT TO:<bob@anywhere.test>'), 'the recipient reached the next hop');
    t.notOk(
      relayed.some((c) => /^AUTH\b/i.test(c)),
      'the credentials stay with the relay: no AUTH to the next hop',
    );
    t.match(await transactions(relay, 2), [
      {
        listener: 'submission',
        user: 'alice',
        outcome: 'delivered',
        final: '250 2.0.0 Ok: queued',
      },
      {
        listener: 'submission',
        user: 'alice',
        outcome: 'delivered',
        final: '250 2.0.0 Ok: queued',
      },
    ]);
    assertNoSecrets(t, relay);
  });

  void t.test('465: implicit TLS, AUTH PLAIN, delivered', async (t) => {
    const { hop, relay, port } = await setup(t);
    // --tls-on-connect is swaks' -tlsc: TLS from the first byte, the banner already inside it.
    const run = await swaks(port('submissions'), ['--tls-on-connect', ...auth('PLAIN', PASSWORD)]);
    t.equal(run.code, 0, 'swaks exits 0', { transcript: run.describe });
    t.match(
      run.transcript,
      /^=== TLS started with cipher TLSv1\.3:TLS_AES_128_GCM_SHA256:128\n(?:=== .*\n)*<~ {2}220 relay\.test ESMTP starttls-relay$/m,
      'TLS before the banner',
    );
    t.notMatch(run.transcript, /STARTTLS/, 'no STARTTLS inside implicit TLS');
    t.match(
      run.transcript,
      new RegExp(
        `^ ~> AUTH PLAIN ${plain('alice', PASSWORD)}\\n<~ {2}235 Authentication successful$`,
        'm',
      ),
    );
    t.match(run.transcript, /^ ~> \.\n<~ {2}250 2\.0\.0 Ok: queued$/m);
    t.equal(hop.bodies.length, 1, 'the next hop got the message');
    t.match(hop.bodies[0]?.toString('utf8') ?? '', RECEIVED_ESMTPSA);
    t.match(await transactions(relay, 1), [
      { listener: 'submissions', user: 'alice', outcome: 'delivered' },
    ]);
    assertNoSecrets(t, relay);
  });

  void t.test(
    '587 without TLS: no AUTH offered, MAIL refused; with TLS but no AUTH, MAIL refused',
    async (t) => {
      const { hop, relay, port } = await setup(t);

      const clear = await swaks(port('submission'), auth('PLAIN', PASSWORD));
      t.equal(clear.code, 28, 'swaks exits 28, error in AUTH', { transcript: clear.describe });
      t.match(clear.stderr, /^\*\*\* Host did not advertise authentication$/m);
      t.match(clear.transcript, /^<- {2}250-STARTTLS$/m);
      t.notMatch(clear.transcript, /AUTH/, 'AUTH neither advertised nor sent in clear');
      t.notMatch(clear.transcript, /^<\S* +(?:334|235)\b/m, 'no 334, no 235');
      t.match(clear.transcript, /^ -> QUIT\n<- {2}221 Bye$/m, 'swaks gives up and quits');

      // swaks marks an error reply `<**` in clear, `<~*` inside TLS.
      const clearMail = await swaks(port('submission'), ['--quit-after', 'RCPT']);
      t.equal(clearMail.code, 23, 'swaks exits 23, error in MAIL', {
        transcript: clearMail.describe,
      });
      t.match(
        clearMail.transcript,
        /^ -> MAIL FROM:<alice@origin\.test>\n<\*\* 530 5\.7\.0 Must issue a STARTTLS command first$/m,
      );

      const noAuth = await swaks(port('submission'), ['--tls', '--quit-after', 'RCPT']);
      t.equal(noAuth.code, 23, 'swaks exits 23, error in MAIL', { transcript: noAuth.describe });
      t.match(noAuth.transcript, /^<~ {2}250-AUTH PLAIN LOGIN$/m);
      t.match(
        noAuth.transcript,
        /^ ~> MAIL FROM:<alice@origin\.test>\n<~\* 530 5\.7\.0 Authentication required$/m,
      );
      t.notMatch(noAuth.transcript, /RCPT TO/, 'swaks stops at the refused MAIL');

      t.equal(hop.commands.length, 0, 'nothing reached the next hop');
      t.same(relay.transactions(), [], 'no transaction');
      assertNoSecrets(t, relay);
    },
  );

  void t.test('587: a bad password gets 535', async (t) => {
    const { hop, relay, port } = await setup(t);
    const run = await swaks(port('submission'), ['--tls', ...auth('PLAIN', WRONG)]);
    t.equal(run.code, 28, 'swaks exits 28, error in AUTH', { transcript: run.describe });
    t.match(
      run.transcript,
      new RegExp(
        `^ ~> AUTH PLAIN ${plain('alice', WRONG)}\\n<~\\* 535 5\\.7\\.8 Authentication credentials invalid$`,
        'm',
      ),
    );
    t.match(run.stderr, /^\*\*\* No authentication type succeeded$/m);
    t.notMatch(run.transcript, /MAIL FROM/, 'no MAIL after the failure');
    t.equal(hop.commands.length, 0, 'nothing reached the next hop');
    assertNoSecrets(t, relay);
  });

  void t.test(
    'per-user budget of 3: three 535s, then 454 even for the right password',
    async (t) => {
      const { hop, relay, port } = await setup(t, { perUser: 3, delayMs: 0 });
      for (let i = 1; i <= 3; i += 1) {
        const run = await swaks(port('submission'), ['--tls', ...auth('PLAIN', WRONG)]);
        t.equal(run.code, 28, `wrong password, run ${i}: swaks exits 28`, {
          transcript: run.describe,
        });
        t.match(
          run.transcript,
          /^<~\* 535 5\.7\.8 Authentication credentials invalid$/m,
          `wrong password, run ${i}: 535`,
        );
      }
      const right = await swaks(port('submission'), ['--tls', ...auth('PLAIN', PASSWORD)]);
      t.equal(right.code, 28, 'right password, budget spent: swaks exits 28', {
        transcript: right.describe,
      });
      t.match(
        right.transcript,
        new RegExp(
          `^ ~> AUTH PLAIN ${plain('alice', PASSWORD)}\\n<~\\* 454 4\\.7\\.0 Too many authentication failures, try again later$`,
          'm',
        ),
      );
      t.notMatch(right.transcript, /^<~ {2}235 /m, 'never 235');
      t.equal(hop.commands.length, 0, 'nothing reached the next hop');
      const metrics = await relay.metricsText();
      t.match(
        metrics,
        /^starttls_relay_auth_attempts_total\{listener="submission",mechanism="PLAIN",outcome="failure"\} 3$/m,
      );
      t.match(
        metrics,
        /^starttls_relay_auth_attempts_total\{listener="submission",mechanism="PLAIN",outcome="throttled"\} 1$/m,
      );
      assertNoSecrets(t, relay);
    },
  );
}
