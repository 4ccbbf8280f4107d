// swaks → relay → a real Postfix next hop over STARTTLS: delivered intact, Postfix's own replies mirrored, both hops' TLS recorded.
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import {
  startPostfix,
  type DeliveredMessage,
  type PostfixOptions,
  type PostfixTestHooks,
} from '../support/postfix.js';
import { createTestCa } from '../support/pki.js';
import { startTestRelay, type TestRelay } from '../support/relay.js';
import { describeRun, requireRoot, requireTools, runTool } from '../support/tools.js';

const tools = requireTools(t, [
  ['postfix', 'postfix'],
  ['swaks', 'swaks'],
]);

/** swaks as the relay's client: STARTTLS required, certificate not verified, stdin closed. */
async function swaks(port: number, args: readonly string[]) {
  if (!tools) throw new Error('unreachable: tools checked above');
  const argv = [
    '--server',
    `127.0.0.1:${port}`,
    '--tls',
    '--ehlo',
    'client.test',
    '--from',
    'sender@origin.test',
    '--timeout',
    '30',
    ...args,
  ];
  const run = await runTool(tools.swaks, argv, { timeoutMs: 60_000 });
  return {
    ...run,
    transcript: run.stdout + run.stderr,
    describe: describeRun(tools.swaks, argv, run),
  };
}

function header(message: DeliveredMessage, name: string): string[] {
  return message.headers
    .filter((h) => h.name.toLowerCase() === name.toLowerCase())
    .map((h) => h.value);
}

/**
 * The message swaks sent after DATA, read back from its transcript (` ~> ` lines after the 354, up
 * to the lone dot), dot-stuffing undone and LF line ends, as Postfix stores it.
 */
function sentMessage(transcript: string): string {
  const lines = transcript.split('\n');
  const start = lines.findIndex((l) => /^<[~-] {2}354 /.test(l));
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const sent = /^ [~-]> (.*?)\r?$/.exec(line);
    if (!sent) break;
    const text = sent[1] ?? '';
    if (text === '.') return out.map((l) => `${l}\n`).join('');
    out.push(text.startsWith('.') ? text.slice(1) : text);
  }
  throw new Error(`no complete DATA in the swaks transcript:\n${transcript}`);
}

// Lines that travel badly when a relay gets them wrong: a leading dot (stuffed twice over two
// hops), a lone dot-space, leading whitespace, a tab, an empty line in the middle.
const BODY = [
  'Hello from the interop test.',
  '.a line that starts with a dot',
  '. ',
  '   indented line',
  'tab\tseparated',
  '',
  'last line',
].join('\n');

/** The transaction line is written as the final reply goes out: wait for it, boundedly. */
async function transactionLines(
  relay: TestRelay,
  count: number,
): Promise<Array<Record<string, unknown>>> {
  for (let i = 0; i < 50 && relay.transactions().length < count; i += 1) await sleep(100);
  return relay.transactions();
}

/** A Postfix next hop with STARTTLS under a test CA, and a relay routing dest.test to it. */
async function setup(t: PostfixTestHooks, options: Omit<PostfixOptions, 'tls'> = {}) {
  const ca = await createTestCa();
  const postfix = await startPostfix(t, { ...options, tls: await ca.issue(['127.0.0.1']) });
  const relay = await startTestRelay(
    { routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${postfix.port}`, tls: 'may' }] },
    { outboundCa: ca.cert },
  );
  t.teardown(() => relay.close());
  return { postfix, relay };
}

/** Postfix's final reply as swaks heard it from the relay: the queue id, or undefined. */
function queuedAs(transcript: string): string | undefined {
  return /^<~ {2}250 2\.0\.0 Ok: queued as ([0-9A-F]+)$/m.exec(transcript)?.[1];
}

if (tools && requireRoot(t, 'a private Postfix instance is started with `postfix start`')) {
  void t.test(
    'delivers through the relay to Postfix over STARTTLS, both hops TLS 1.3',
    async (t) => {
      const { postfix, relay } = await setup(t);
      const run = await swaks(relay.port, [
        '--to',
        'alice@dest.test',
        '--header',
        'Subject: interop through starttls-relay',
        '--body',
        BODY,
      ]);
      t.equal(run.code, 0, 'swaks exits 0', { transcript: run.describe });
      t.match(run.transcript, /^<- {2}220 relay\.test ESMTP starttls-relay$/m, 'relay banner');
      t.match(run.transcript, /^=== TLS started with cipher TLSv1\.3:TLS_AES_128_GCM_SHA256:128$/m);
      t.match(run.transcript, /^ ~> RCPT TO:<alice@dest\.test>\n<~ {2}250 Accepted$/m);
      const queueId = queuedAs(run.transcript);
      t.ok(queueId, "Postfix's own final reply mirrored", { transcript: run.describe });

      const [message, ...others] = await postfix.waitForMessages(1);
      t.equal(others.length, 0, 'exactly one delivery');
      if (!message || !queueId) return;
      t.equal(message.deliveredTo, 'alice@dest.test');
      // Everything swaks sent arrives byte for byte (CRLF stored as LF, each hop's dot-stuffing
      // undone once), behind the two Received headers and Postfix's delivery headers.
      const sent = sentMessage(run.transcript);
      t.ok(sent.includes(`\n\n${BODY}\n`), 'swaks sent the body given');
      t.equal(message.text.slice(-sent.length), sent, 'headers and body intact');
      t.same(header(message, 'Subject'), ['interop through starttls-relay']);

      const received = header(message, 'Received');
      t.equal(received.length, 2, "Postfix's Received header, then the relay's");
      const [postfixHop = '', relayHop = ''] = received;
      // The relay's header: how it received the message (from swaks, over TLS 1.3).
      t.match(
        relayHop,
        /^from client\.test \(\[127\.0\.0\.1\]\)\n\tby relay\.test \(starttls-relay\) with ESMTPS id [0-9a-v]+\.1\n\t\(version=TLSv1\.3, cipher=TLS_AES_128_GCM_SHA256\);\n\t\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$/,
      );
      // Postfix's own header: how it received the message from the relay.
      t.match(
        postfixHop,
        new RegExp(
          String.raw`^from relay\.test \(unknown \[127\.0\.0\.1\]\)\n\t\(using TLSv1\.3 with cipher TLS_AES_\d+_GCM_SHA\d+ \(\d+/\d+ bits\)\n[^]*\n\tby nexthop\.test \(Postfix\) with ESMTPS id ${queueId}\n\tfor <alice@dest\.test>; `,
        ),
      );
      t.match(
        await postfix.maillog(),
        new RegExp(`${queueId}: to=<alice@dest\\.test>, relay=virtual, .* status=sent`),
      );

      const lines = await transactionLines(relay, 1);
      t.equal(lines.length, 1, 'one transaction line');
      t.match(lines[0], {
        outcome: 'delivered',
        final: `250 2.0.0 Ok: queued as ${queueId}`,
        mailFrom: 'sender@origin.test',
        client: { address: '127.0.0.1', helo: 'client.test' },
        inboundTls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' },
        nextHop: { domain: 'dest.test', source: 'route', address: '127.0.0.1', port: postfix.port },
        outboundTls: {
          starttls: 'encrypted',
          protocol: 'TLSv1.3',
          cipher: /^TLS_AES_\d+_GCM_SHA\d+$/,
          verified: true,
          peerSubject: 'CN=127.0.0.1',
        },
        recipients: [{ to: 'alice@dest.test', reply: '250 2.1.5 Ok', source: 'next_hop' }],
        size: Buffer.byteLength(sent.replace(/\n/g, '\r\n')),
      });

      const metrics = await relay.metricsText();
      t.match(
        metrics,
        /^starttls_relay_hop_tls_messages_total\{hop="outbound",tls_version="TLSv1\.3",verified="true"\} 1$/m,
      );
      t.match(
        metrics,
        /^starttls_relay_hop_tls_messages_total\{hop="inbound",tls_version="TLSv1\.3",verified="false"\} 1$/m,
      );
      t.match(metrics, /^starttls_relay_outbound_starttls_total\{result="encrypted"\} 1$/m);
      t.match(metrics, /^starttls_relay_messages_total\{outcome="delivered"\} 1$/m);
    },
  );

  void t.test(
    'Postfix refuses one of three recipients: its 550 mirrored, two delivered',
    async (t) => {
      const { postfix, relay } = await setup(t, {
        rejectRecipients: { 'nobody@dest.test': '550 5.1.1 no such user' },
      });
      const run = await swaks(relay.port, [
        '--to',
        'alice@dest.test,nobody@dest.test,bob@dest.test',
        '--header',
        'Subject: three recipients',
        '--body',
        'one of three is refused',
      ]);
      t.equal(run.code, 0, 'swaks exits 0 when a recipient was accepted', {
        transcript: run.describe,
      });
      t.match(run.transcript, /^ ~> RCPT TO:<alice@dest\.test>\n<~ {2}250 Accepted$/m);
      t.match(
        run.transcript,
        /^ ~> RCPT TO:<nobody@dest\.test>\n<~\* 550 5\.1\.1 <nobody@dest\.test>: Recipient address rejected: no such user$/m,
        "Postfix's own 550 mirrored word for word",
      );
      t.match(run.transcript, /^ ~> RCPT TO:<bob@dest\.test>\n<~ {2}250 Accepted$/m);
      const queueId = queuedAs(run.transcript);
      t.ok(queueId, "Postfix's final reply mirrored", { transcript: run.describe });
      if (!queueId) return;

      // Postfix queues one message for two recipients; its virtual agent writes one file for each.
      const delivered = await postfix.waitForMessages(2);
      t.same(delivered.map((m) => m.deliveredTo).sort(), ['alice@dest.test', 'bob@dest.test']);
      const sent = sentMessage(run.transcript);
      for (const m of delivered) {
        t.equal(m.text.slice(-sent.length), sent, `message intact for ${m.deliveredTo ?? '?'}`);
        t.match(header(m, 'Received')[0], new RegExp(`with ESMTPS id ${queueId};`));
      }
      const maillog = await postfix.maillog();
      t.match(
        maillog,
        new RegExp(
          `${queueId}: from=<sender@origin\\.test>, size=\\d+, nrcpt=2 \\(queue active\\)`,
        ),
      );
      t.notMatch(
        maillog,
        /to=<nobody@dest\.test>, relay=/,
        'nothing delivered to the refused recipient',
      );

      t.match(await transactionLines(relay, 1), [
        {
          outcome: 'delivered',
          final: `250 2.0.0 Ok: queued as ${queueId}`,
          outboundTls: { starttls: 'encrypted', protocol: 'TLSv1.3', verified: true },
          recipients: [
            { to: 'alice@dest.test', reply: '250 2.1.5 Ok', source: 'next_hop' },
            {
              to: 'nobody@dest.test',
              reply: '550 5.1.1 <nobody@dest.test>: Recipient address rejected: no such user',
              source: 'next_hop',
            },
            { to: 'bob@dest.test', reply: '250 2.1.5 Ok', source: 'next_hop' },
          ],
        },
      ]);
      const metrics = await relay.metricsText();
      t.match(
        metrics,
        /^starttls_relay_recipients_total\{outcome="accepted",source="next_hop"\} 2$/m,
      );
      t.match(
        metrics,
        /^starttls_relay_recipients_total\{outcome="rejected",source="next_hop"\} 1$/m,
      );
    },
  );

  // Postfix's `sleep` restriction holds its 354 back, so the whole message has reached the relay
  // before the next hop is ready for it: the relay must hold the body, not drop what came early.
  void t.test('a next hop slow to answer DATA still gets the whole message', async (t) => {
    const { postfix, relay } = await setup(t, { mainCf: { smtpd_data_restrictions: 'sleep 1' } });
    const run = await swaks(relay.port, [
      '--to',
      'carol@dest.test',
      '--header',
      'Subject: slow 354',
      '--body',
      'sent before the next hop said 354',
    ]);
    t.equal(run.code, 0, 'swaks exits 0', { transcript: run.describe });
    const queueId = queuedAs(run.transcript);
    t.ok(queueId, "Postfix's final reply mirrored", { transcript: run.describe });
    const [message] = await postfix.waitForMessages(1);
    const sent = sentMessage(run.transcript);
    t.equal(message?.text.slice(-sent.length), sent, 'headers and body intact');
    t.same(message && header(message, 'Subject'), ['slow 354']);
  });
}
