// SMTP smuggling through the relay into a lenient Postfix: sent directly, Postfix splits off a second message; through the relay it gets one, the dot line neutralised.
import t from 'tap';
import { startPostfix } from '../support/postfix.js';
import { createTestCa } from '../support/pki.js';
import { startTestRelay } from '../support/relay.js';
import { describeRun, requireRoot, requireTools, runTool } from '../support/tools.js';

const tools = requireTools(t, [
  ['postfix', 'postfix'],
  ['swaks', 'swaks'],
]);

/**
 * End-of-data sequences a lenient receiver takes for `<CRLF>.<CRLF>` (SEC Consult, 2023); Postfix
 * 3.7 with `smtpd_forbid_bare_newline = no` reads a bare LF as a line end, so each one ends DATA.
 */
const SEQUENCES = [
  { name: '<LF>.<CR><LF>', bytes: '\n.\r\n' },
  { name: '<LF>.<LF>', bytes: '\n.\n' },
  { name: '<CR><LF>.<LF>', bytes: '\r\n.\n' },
];

/**
 * A message whose body hides a second transaction behind `sequence`. With --no-data-fixup swaks
 * sends these bytes as they are, then CRLF: the real end of data is the last line's dot.
 */
function smugglingData(to: string, smuggledTo: string, sequence: string): string {
  return [
    'From: sender@origin.test\r\n',
    `To: ${to}\r\n`,
    'Subject: carrier\r\n',
    '\r\n',
    `before${sequence}`,
    'MAIL FROM:<evil@origin.test>\r\n',
    `RCPT TO:<${smuggledTo}>\r\n`,
    'DATA\r\n',
    'Subject: smuggled\r\n',
    '\r\n',
    'evil\r\n',
    '.',
  ].join('');
}

if (tools && requireRoot(t, 'a private Postfix instance is started with `postfix start`')) {
  void t.test('a smuggled end-of-data reaches Postfix as one message, not two', async (t) => {
    const ca = await createTestCa();
    const postfix = await startPostfix(t, {
      tls: await ca.issue(['127.0.0.1']),
      // Explicitly lenient, whatever a later Debian update makes the default.
      mainCf: { smtpd_forbid_bare_newline: 'no' },
    });
    const relay = await startTestRelay(
      {
        routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${postfix.port}`, tls: 'may' }],
        // One next-hop session per swaks run, so each run has its own line in Postfix's log.
        outbound: { connectionCache: { enabled: false } },
      },
      { outboundCa: ca.cert },
    );
    t.teardown(() => relay.close());

    const send = async (
      port: number,
      to: string,
      smuggledTo: string,
      sequence: string,
      tls: boolean,
    ) => {
      const argv = [
        '--server',
        `127.0.0.1:${port}`,
        ...(tls ? ['--tls'] : []),
        '--ehlo',
        'client.test',
        '--from',
        'sender@origin.test',
        '--to',
        to,
        '--timeout',
        '30',
        '--no-data-fixup',
        '--data',
        smugglingData(to, smuggledTo, sequence),
      ];
      const run = await runTool(tools.swaks, argv, { timeoutMs: 60_000 });
      return {
        ...run,
        transcript: run.stdout + run.stderr,
        describe: describeRun(tools.swaks, argv, run),
      };
    };

    for (const [i, { name, bytes }] of SEQUENCES.entries()) {
      // Through the relay: one transaction on each hop, whatever the body holds. (The relay
      // accepts the bare LF and writes it as CRLF, the lone dot stuffed; DESIGN invariant 6 asks
      // for `550 5.5.2` on a bare LF instead: when that lands, expect that reply and no message.)
      const relayed = await send(
        relay.port,
        `relayed-${i}@dest.test`,
        `smuggled-via-relay-${i}@dest.test`,
        bytes,
        true,
      );
      t.equal(relayed.code, 0, `${name} via the relay: swaks exits 0`, {
        transcript: relayed.describe,
      });
      t.match(
        relayed.transcript,
        /^<~ {2}250 2\.0\.0 Ok: queued as [0-9A-F]+\n ~> QUIT\n<~ {2}221 Bye$/m,
        `${name} via the relay: one final reply, then QUIT`,
      );

      // The control: the same bytes straight to Postfix split into two transactions.
      const direct = await send(
        postfix.port,
        `direct-${i}@dest.test`,
        `smuggled-direct-${i}@dest.test`,
        bytes,
        false,
      );
      t.equal(direct.code, 0, `${name} direct: swaks exits 0`, { transcript: direct.describe });
    }
    await postfix.waitForEmptyQueue();
    const delivered = await postfix.messages();
    t.equal(delivered.length, 3 * SEQUENCES.length, 'three messages per sequence, no more');
    const byRecipient = new Map(delivered.map((m) => [m.deliveredTo ?? '?', m]));
    t.same(
      [...byRecipient.keys()].sort(),
      SEQUENCES.flatMap((_, i) => [
        `direct-${i}@dest.test`,
        `relayed-${i}@dest.test`,
        `smuggled-direct-${i}@dest.test`,
      ]).sort(),
      'the direct sends smuggled a message each; the relayed ones did not',
    );
    for (const [i, { name }] of SEQUENCES.entries()) {
      // Postfix stores LF line ends: the dot line arrives as data, dot-stuffed on the wire.
      t.equal(
        byRecipient.get(`relayed-${i}@dest.test`)?.body,
        `before\n.\nMAIL FROM:<evil@origin.test>\nRCPT TO:<smuggled-via-relay-${i}@dest.test>\nDATA\nSubject: smuggled\n\nevil\n`,
        `${name}: one message, the smuggled transaction is text in its body`,
      );
      t.equal(
        byRecipient.get(`direct-${i}@dest.test`)?.body,
        'before\n',
        `${name} direct: the carrier ends early`,
      );
    }
    // Postfix saw one transaction on each of the relay's connections.
    const sessions = await postfix.waitForLog(
      / disconnect from \S+ ehlo=2 starttls=1 /,
      SEQUENCES.length,
    );
    t.same(
      sessions.map((line) => line.replace(/^.* disconnect from \S+ /, '')),
      SEQUENCES.map(() => 'ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7'),
    );
    t.match(
      relay.transactions(),
      SEQUENCES.map((_, i) => ({
        outcome: 'delivered',
        recipients: [{ to: `relayed-${i}@dest.test` }],
      })),
    );
  });
}
