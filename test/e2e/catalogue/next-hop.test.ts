// Catalogue rows ST-07 (454 to STARTTLS), ST-09 (response injection behind the next hop's STARTTLS reply), FT-02 (a 554 greeting), FT-03 (MAIL refused upstream), FT-11 (a handler that throws or rejects) and DS-04 (a hostile next hop's huge replies): real next hops on loopback, exact replies.
import t, { type Test } from 'tap';
import { startTlsHop, type TlsHop } from '../../support/catalogue-tls-hop.js';
import { startFaultHop } from '../../support/fault-hop.js';
import { generateSelfSigned } from '../../support/pki.js';
import { startRawHop } from '../../support/raw-hop.js';
import { startTestRelay } from '../../support/relay.js';
import { settle, throughRawHop, tlsClient } from '../../support/scenario.js';
import { SmtpDialogue } from '../../support/smtp-client.js';

const GO_AHEAD = '354 End data with <CR><LF>.<CR><LF>';
const UNAVAILABLE = '451 4.4.1 Next hop unavailable, try again later';

/** A relay routed to a STARTTLS hop that writes `startTlsReply` in one segment. */
async function relayToTlsHop(
  t: Test,
  startTlsReply: string,
  ehloTls: readonly string[],
): Promise<{ readonly hop: TlsHop; readonly c: SmtpDialogue }> {
  const hop = await startTlsHop({
    identity: await generateSelfSigned(['tls-hop.test']),
    startTlsReply,
    ehloPlain: ['tls-hop.test', '8BITMIME'],
    ehloTls,
  });
  t.teardown(() => hop.close());
  const relay = await startTestRelay({
    routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}` }],
  });
  t.teardown(() => relay.close());
  return { hop, c: await tlsClient(t, relay.port) };
}

void t.test(
  'ST-09: bytes behind the hop STARTTLS reply are discarded, only the post-TLS EHLO counts',
  async (t) => {
    const { hop, c } = await relayToTlsHop(t, '220 Ready\r\n250-SMTPUTF8 INJECTED ', [
      'tls-hop.test',
      '8BITMIME',
    ]);
    t.equal(await c.send('MAIL FROM:<a@origin.test> SMTPUTF8'), '250 Accepted');
    t.equal(
      await c.send('RCPT TO:<jörg@dest.test>'),
      '553 5.6.7 Next hop does not support SMTPUTF8 for this address',
      'the injected SMTPUTF8 is not believed',
    );
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted', 'the session is in step');
    t.equal(await c.send('DATA'), GO_AHEAD);
    t.equal(await c.send('Subject: s\r\n\r\nbody\r\n.'), '250 2.0.0 Ok: queued');
    t.same(
      hop.commands[0],
      [
        'EHLO relay.test',
        'STARTTLS',
        '[tls] EHLO relay.test',
        '[tls] MAIL FROM:<a@origin.test>',
        '[tls] RCPT TO:<b@dest.test>',
        '[tls] DATA',
      ],
      'one EHLO after the handshake, everything else encrypted',
    );
    t.equal(hop.bodies.length, 1);
  },
);

void t.test(
  'ST-09 control: the same hop offering SMTPUTF8 after TLS gets the UTF-8 recipient',
  async (t) => {
    const { hop, c } = await relayToTlsHop(t, '220 Ready\r\n', [
      'tls-hop.test',
      '8BITMIME',
      'SMTPUTF8',
    ]);
    t.equal(await c.send('MAIL FROM:<a@origin.test> SMTPUTF8'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<jörg@dest.test>'), '250 Accepted');
    t.ok(hop.commands[0]?.includes('[tls] MAIL FROM:<a@origin.test> SMTPUTF8'));
  },
);

void t.test(
  'FT-02: a 554 greeting is never a permanent refusal: 451 4.4.1 to the RCPT, session open',
  async (t) => {
    const hop = await startFaultHop((phase) =>
      phase === 'greeting'
        ? { kind: 'reply', text: '554 5.3.2 hop.test no SMTP service here' }
        : undefined,
    );
    t.teardown(() => hop.close());
    const relay = await startTestRelay({
      routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}` }],
    });
    t.teardown(() => relay.close());
    const c = await tlsClient(t, relay.port);
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<b@dest.test>'), UNAVAILABLE);
    t.equal(await c.send('RSET'), '250 Flushed');
    t.equal(await c.send('NOOP'), '250 OK', 'the client session goes on');
    t.equal(hop.messages.length, 0);
  },
);

void t.test(
  'FT-03: 553 5.7.1 to MAIL upstream reaches the client verbatim, as the first RCPT reply',
  async (t) => {
    const { hop, c } = await throughRawHop(
      t,
      (port) => ({ routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${port}` }] }),
      { replies: { 'MAIL FROM:<spammer@': '553 5.7.1 sender rejected' } },
    );
    // By design MAIL is accepted locally: the next hop is known only at the first RCPT.
    t.equal(await c.send('MAIL FROM:<spammer@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '553 5.7.1 sender rejected');
    t.equal(await c.send('RCPT TO:<c@dest.test>'), '553 5.7.1 sender rejected', 'each RCPT');
    t.equal(await c.send('DATA'), '503 Error: need RCPT command');
    // RFC 2920 §3.1: the first RCPT rides with MAIL; after a refused MAIL its reply is ignored,
    // and an RSET comes before the next MAIL.
    t.same(
      (hop.commands[0] ?? []).filter((l) => !l.startsWith('EHLO')),
      [
        'MAIL FROM:<spammer@origin.test>',
        'RCPT TO:<b@dest.test>',
        'RSET',
        'MAIL FROM:<spammer@origin.test>',
        'RCPT TO:<c@dest.test>',
      ],
      'each RCPT pipelined with its own MAIL, nothing else',
    );
  },
);

/** A resolver whose answers for `broken.test` break its contract; the rest is never asked. */
function brokenResolver(kind: 'throws' | 'garbage') {
  const refuse = (): Promise<never> =>
    Promise.reject(Object.assign(new Error('no data'), { code: 'ENODATA' }));
  return {
    resolveMx: (domain: string) => {
      if (kind === 'throws') throw new TypeError(`resolver bug for ${domain}`);
      // A non-DNS failure inside the RCPT handler: not an array of MX records.
      return Promise.resolve([{ exchange: 42, priority: 10 }] as unknown as Array<{
        exchange: string;
        priority: number;
      }>);
    },
    resolve4: refuse,
    resolve6: refuse,
    resolveTxt: refuse,
  };
}

for (const kind of ['throws', 'garbage'] as const) {
  void t.test(
    `FT-11: a resolver that ${kind === 'throws' ? 'throws synchronously' : 'returns garbage'}: 451 for that RCPT, session and server alive`,
    async (t) => {
      const hop = await startRawHop();
      t.teardown(() => hop.close());
      const relay = await startTestRelay(
        {
          routes: [
            { domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}` },
            { domains: ['broken.test'], nextHop: 'mx' },
          ],
          relay: { acceptDomains: ['dest.test', 'broken.test'] },
        },
        { resolver: brokenResolver(kind) },
      );
      t.teardown(() => relay.close());
      const c = await tlsClient(t, relay.port);
      t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
      t.equal(
        await c.send('RCPT TO:<x@broken.test>'),
        kind === 'throws'
          ? '451 4.4.3 Temporary DNS failure resolving the next hop, try again later'
          : '451 4.3.0 Local error in processing, try again later',
      );
      t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted', 'the session goes on');
      t.equal(await c.send('DATA'), GO_AHEAD);
      t.equal(await c.send('Subject: s\r\n\r\nbody\r\n.'), '250 2.0.0 Ok: queued');
      const other = await SmtpDialogue.connect(relay.port);
      t.teardown(() => other.close());
      t.equal(await other.line(), '220 relay.test ESMTP starttls-relay', 'the server is up');
      if (kind === 'garbage') {
        await settle();
        t.ok(
          relay.logs.some((l) => l.msg === 'recipient handling failed'),
          'the bug is logged',
        );
      }
    },
  );
}

const HOSTILE_REPLIES = {
  // 2 MiB of continuation lines and never a last line: endless as far as a 1 MiB cap can tell.
  'an endless multi-line reply': `${`250-${'x'.repeat(1020)}\r\n`.repeat(2048)}250-and more`,
  'a 10 MiB reply line': `250 ${'y'.repeat(10 * 1024 * 1024)}`,
};

for (const [name, reply] of Object.entries(HOSTILE_REPLIES)) {
  void t.test(`DS-04: ${name} to RCPT is 451 4.4.2, the session goes on`, async (t) => {
    const { hop, c } = await throughRawHop(
      t,
      (port) => ({ routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${port}` }] }),
      { replies: { 'RCPT TO:<flood@': reply } },
    );
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(
      await c.send('RCPT TO:<flood@dest.test>'),
      '451 4.4.2 Connection to the next hop lost, try again later',
    );
    t.equal(await c.send('RSET'), '250 Flushed');
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted', 'a new hop session');
    t.equal(hop.commands.length, 2, 'the flooding connection was dropped');
  });
}

/** A hop that offers STARTTLS and answers it 454 (catalogue ST-07). */
function refusingStartTlsHop(): Promise<TlsHop> {
  return generateSelfSigned(['tls-hop.test']).then((identity) =>
    startTlsHop({
      identity,
      startTlsReply: '454 4.7.0 TLS not available due to temporary reason\r\n',
      ehloPlain: ['tls-hop.test', '8BITMIME'],
      ehloTls: ['tls-hop.test', '8BITMIME'],
    }),
  );
}

void t.test(
  'ST-07: 454 to STARTTLS on a may route: plaintext on the same connection',
  async (t) => {
    const hop = await refusingStartTlsHop();
    t.teardown(() => hop.close());
    const relay = await startTestRelay({
      routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}` }],
    });
    t.teardown(() => relay.close());
    const c = await tlsClient(t, relay.port);
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
    t.equal(await c.send('DATA'), GO_AHEAD);
    t.equal(await c.send('Subject: s\r\n\r\nbody\r\n.'), '250 2.0.0 Ok: queued');
    t.same(hop.commands, [
      ['EHLO relay.test', 'STARTTLS', 'MAIL FROM:<a@origin.test>', 'RCPT TO:<b@dest.test>', 'DATA'],
    ]);
    await settle();
    t.match(relay.transactions()[0], {
      outboundTls: {
        starttls: 'failed_fallback',
        starttlsError: 'STARTTLS refused: 454 4.7.0 TLS not available due to temporary reason',
        protocol: null,
      },
    });
  },
);

void t.test('ST-07: 454 to STARTTLS on an encrypt route: 451 4.7.5 and no MAIL', async (t) => {
  const hop = await refusingStartTlsHop();
  t.teardown(() => hop.close());
  const relay = await startTestRelay({
    routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}`, tls: 'encrypt' }],
  });
  t.teardown(() => relay.close());
  const c = await tlsClient(t, relay.port);
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(
    await c.send('RCPT TO:<b@dest.test>'),
    '451 4.7.5 TLS policy not met by any next hop, try again later',
  );
  t.notOk(
    hop.commands.flat().some((l) => l.startsWith('MAIL')),
    'nothing sent in clear',
  );
});
