// The next-hop connection cache and TLS resumption: warm sessions are shared by client sessions to the same next hop, checked with RSET, judged again against today's policy, never reused after an error or an AUTH passthrough, QUIT when idle; new connections resume TLS with honest facts.
import t, { type Test } from 'tap';
import type { RelayOverrides } from '../../src/app.js';
import { createTestCa, generateSelfSigned } from '../support/pki.js';
import { startTestRelay, type TestRelay } from '../support/relay.js';
import { settle, tlsClient, transact, type TransactionReplies } from '../support/scenario.js';
import { startTlsRawHop, type TlsRawHop, type TlsRawHopOptions } from '../support/tls-raw-hop.js';

const DELIVERED = (n: number): TransactionReplies => ({
  mail: '250 Accepted',
  rcpts: ['250 Accepted'],
  data: '354 End data with <CR><LF>.<CR><LF>',
  final: `250 2.0.0 Ok: queued as Q${n}`,
});

async function until(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 250 && !check(); i++) await settle(20);
  return check();
}

async function setup(
  t: Test,
  hopOptions: Partial<TlsRawHopOptions> = {},
  config: (port: number) => Record<string, unknown> = () => ({}),
  overrides: RelayOverrides = {},
): Promise<{ hop: TlsRawHop; relay: TestRelay }> {
  const hop = await startTlsRawHop({
    pair: await generateSelfSigned(['hop.test']),
    ...hopOptions,
  });
  t.teardown(() => hop.close());
  const relay = await startTestRelay(
    {
      routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}` }],
      ...config(hop.port),
    },
    overrides,
  );
  t.teardown(() => relay.close());
  return { hop, relay };
}

/** One client session: one message, then QUIT; resolves once the relay has let the client go. */
async function client(
  t: Test,
  relay: TestRelay,
  from: string,
  to = 'b@dest.test',
  port = relay.port,
): Promise<TransactionReplies> {
  const c = await tlsClient(t, port);
  const r = await transact(c, from, [to], `Subject: ${from}\r\n\r\nbody`);
  t.equal(await c.send('QUIT'), '221 Bye');
  await c.waitClosed();
  await settle();
  return r;
}

function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`starttls_relay_${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

const SETUP = ['EHLO relay.test', 'STARTTLS', 'EHLO relay.test'];

void t.test(
  'two client sessions in a row: one next-hop connection, two messages, RSET between',
  async (t) => {
    const { hop, relay } = await setup(t);
    t.same(await client(t, relay, 'a@origin.test'), DELIVERED(1));
    t.same(await client(t, relay, 'c@origin.test'), DELIVERED(2));
    t.equal(hop.connections.length, 1, 'the hop saw one connection');
    t.same(hop.connections[0]?.commands, [
      ...SETUP,
      'MAIL FROM:<a@origin.test>',
      'RCPT TO:<b@dest.test>',
      'DATA',
      'RSET',
      'MAIL FROM:<c@origin.test>',
      'RCPT TO:<b@dest.test>',
      'DATA',
    ]);
    const text = await relay.metricsText();
    t.equal(metric(text, 'outbound_connection_cache_hits_total'), 1);
    t.equal(metric(text, 'outbound_connection_cache_misses_total'), 1);
    t.equal(metric(text, 'outbound_connection_cache_idle_connections'), 1);
    t.match(
      text,
      /starttls_relay_outbound_starttls_total\{result="encrypted"\} 1\n/,
      'one session',
    );
    t.match(
      text,
      /starttls_relay_outbound_tls_handshakes_total\{tls_version="TLSv1.3",verified="false"\} 1\n/,
      'a reuse is not a new handshake',
    );
    const [first, second] = relay.transactions();
    t.same(
      second?.outboundTls,
      { ...(first?.outboundTls as object), reused: true },
      'the reused session keeps its own TLS facts, marked reused',
    );
    t.match(second, { outcome: 'delivered', outboundTls: { verified: false } });

    await relay.close();
    t.ok(
      await until(() => hop.connections[0]?.commands.at(-1) === 'QUIT'),
      'closing the relay QUITs the cached session',
    );
  },
);

void t.test(
  'a next hop that drops idle clients: the next client still gets 250, over a new connection',
  async (t) => {
    const { hop, relay } = await setup(t, { idleCloseMs: 300 });
    t.same(await client(t, relay, 'a@origin.test'), DELIVERED(1));
    t.ok(await until(() => hop.connections[0]?.closed === true), 'the hop dropped the idle one');
    t.same(await client(t, relay, 'c@origin.test'), DELIVERED(2));
    t.equal(hop.connections.length, 2);
    t.same(hop.connections[1]?.commands.slice(0, 4), [...SETUP, 'MAIL FROM:<c@origin.test>']);
    t.match(
      await relay.metricsText(),
      /starttls_relay_outbound_connection_cache_evictions_total\{reason="hop_closed"\} 1\n/,
    );
  },
);

void t.test(
  'a cached session that does not answer RSET with 250 is closed; the client never notices',
  async (t) => {
    const { hop, relay } = await setup(t, { replies: { RSET: '500 5.5.1 lost my place' } });
    t.same(await client(t, relay, 'a@origin.test'), DELIVERED(1));
    t.same(await client(t, relay, 'c@origin.test'), DELIVERED(2));
    t.equal(hop.connections.length, 2, 'a new connection carried the second message');
    t.equal(hop.connections[0]?.commands.at(-1), 'RSET', 'the check was the last command there');
    t.ok(await until(() => hop.connections[0]?.closed === true), 'and that connection was closed');
    t.match(
      await relay.metricsText(),
      /starttls_relay_outbound_connection_cache_evictions_total\{reason="check_failed"\} 1\n/,
    );
  },
);

void t.test(
  'a cached session that dies in the middle of the RSET check: the client still gets 250',
  async (t) => {
    const { hop, relay } = await setup(t, { replies: { RSET: '421 4.3.2 going down' } });
    t.same(await client(t, relay, 'a@origin.test'), DELIVERED(1));
    t.same(await client(t, relay, 'c@origin.test'), DELIVERED(2));
    t.equal(hop.connections.length, 2);
    t.equal(hop.connections[0]?.commands.at(-1), 'RSET');
  },
);

void t.test('a session that answered out of step is never cached', async (t) => {
  const { hop, relay } = await setup(t, { replies: { 'RCPT TO:<bad@': '354 ready for data' } });
  const c = await tlsClient(t, relay.port);
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(
    await c.send('RCPT TO:<bad@dest.test>'),
    '451 4.4.2 Next hop sent an invalid reply, try again later',
  );
  t.equal(await c.send('QUIT'), '221 Bye');
  await c.waitClosed();
  await settle();
  t.same(await client(t, relay, 'c@origin.test'), DELIVERED(1));
  t.equal(hop.connections.length, 2);
  t.notOk(hop.connections[0]?.commands.includes('RSET'), 'never offered to the next client');
  const text = await relay.metricsText();
  t.equal(metric(text, 'outbound_connection_cache_hits_total'), 0);
  t.equal(metric(text, 'outbound_connection_cache_idle_connections'), 1, 'only the good one');
});

void t.test(
  'a policy that grew stricter: the cached encrypted-only session is passed over, a verified one taken',
  async (t) => {
    const ca = await createTestCa();
    const { hop, relay } = await setup(
      t,
      {},
      (port) => ({
        routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${port}`, enforceHistory: true }],
      }),
      { outboundCa: ca.cert },
    );
    // Client A holds session 1 (self-signed: encrypted) while client B needs session 2, which
    // verifies: the destination's TLS history learns "verified" and, enforced, requires it now.
    const a = await tlsClient(t, relay.port);
    t.same(
      await transact(a, 'a@origin.test', ['b@dest.test'], 'Subject: a\r\n\r\nx'),
      DELIVERED(1),
    );
    hop.usePair(await ca.issue(['127.0.0.1']));
    t.same(await client(t, relay, 'b@origin.test'), DELIVERED(2));
    t.equal(await a.send('QUIT'), '221 Bye');
    await a.waitClosed();
    await settle();
    t.equal(hop.connections.length, 2);
    // Session 1 was released last, so it is the first candidate: history now refuses it.
    t.same(await client(t, relay, 'c@origin.test'), DELIVERED(3));
    t.equal(hop.connections.length, 2, 'no new connection');
    t.notOk(hop.connections[0]?.commands.includes('RSET'), 'the encrypted-only one was not taken');
    t.same(hop.connections[1]?.commands.slice(SETUP.length), [
      'MAIL FROM:<b@origin.test>',
      'RCPT TO:<b@dest.test>',
      'DATA',
      'RSET',
      'MAIL FROM:<c@origin.test>',
      'RCPT TO:<b@dest.test>',
      'DATA',
    ]);
    t.match(relay.transactions().at(-1), {
      outcome: 'delivered',
      outboundTls: { verified: true },
      outboundPolicy: { required: 'verified' },
    });
  },
);

void t.test(
  'a session authenticated by AUTH passthrough is QUIT, never given to another client',
  async (t) => {
    const { hop, relay } = await setup(
      t,
      {
        ehlo: ['8BITMIME', 'AUTH PLAIN'],
        replies: { 'AUTH PLAIN': '235 2.7.0 Authentication successful' },
      },
      (port) => ({
        listeners: [
          { name: 'submission', mode: 'submission', host: '127.0.0.1', port: 0 },
          { name: 'mta', mode: 'mta', host: '127.0.0.1', port: 0 },
        ],
        auth: { passthrough: true, failures: { delayMs: 0 } },
        routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
      }),
    );
    const c = await tlsClient(t, relay.port);
    const plain = Buffer.from('\0alice\0s3cret').toString('base64');
    t.equal(await c.send(`AUTH PLAIN ${plain}`), '235 Authentication successful');
    t.same(
      await transact(c, 'alice@origin.test', ['b@dest.test'], 'Subject: a\r\n\r\nx'),
      DELIVERED(1),
    );
    t.equal(await c.send('QUIT'), '221 Bye');
    await c.waitClosed();
    t.ok(
      await until(() => hop.connections[0]?.commands.at(-1) === 'QUIT'),
      'the authenticated session ended with its client',
    );
    const mta = relay.relay.listeners.get('mta');
    if (!mta) throw new Error('no mta listener');
    t.same(await client(t, relay, 'bob@origin.test', 'b@dest.test', mta.port), DELIVERED(2));
    t.equal(hop.connections.length, 2, 'the other client got a connection of its own');
    t.notOk(
      hop.connections[1]?.commands.some((l) => l.startsWith('AUTH')),
      'not authenticated as anyone',
    );
    t.equal(metric(await relay.metricsText(), 'outbound_connection_cache_hits_total'), 0);
  },
);

void t.test('an idle session is QUIT after idleSeconds', async (t) => {
  const { hop, relay } = await setup(t, {}, () => ({
    outbound: { connectionCache: { idleSeconds: 1 } },
  }));
  t.same(await client(t, relay, 'a@origin.test'), DELIVERED(1));
  t.equal(hop.connections[0]?.commands.at(-1), 'DATA', 'kept open after the client left');
  t.ok(await until(() => hop.connections[0]?.commands.at(-1) === 'QUIT'), 'QUIT when idle');
  t.match(
    await relay.metricsText(),
    /starttls_relay_outbound_connection_cache_evictions_total\{reason="idle_timeout"\} 1\n/,
  );
});

void t.test('maxTransactions: a session that carried its share is QUIT, not cached', async (t) => {
  const { hop, relay } = await setup(t, {}, () => ({
    outbound: { connectionCache: { maxTransactions: 2 } },
  }));
  t.same(await client(t, relay, 'a@origin.test'), DELIVERED(1));
  t.same(await client(t, relay, 'c@origin.test'), DELIVERED(2));
  t.ok(await until(() => hop.connections[0]?.commands.at(-1) === 'QUIT'), 'QUIT after two');
  t.same(await client(t, relay, 'e@origin.test'), DELIVERED(3));
  t.equal(hop.connections.length, 2);
});

void t.test('with the cache off, each client session QUITs its own connection', async (t) => {
  const { hop, relay } = await setup(t, {}, () => ({
    outbound: { connectionCache: { enabled: false } },
  }));
  t.same(await client(t, relay, 'a@origin.test'), DELIVERED(1));
  t.ok(await until(() => hop.connections[0]?.commands.at(-1) === 'QUIT'));
  t.same(await client(t, relay, 'c@origin.test'), DELIVERED(2));
  t.equal(hop.connections.length, 2);
});

void t.test(
  'TLS resumption: the second connection resumes, with the first one’s facts',
  async (t) => {
    const { hop, relay } = await setup(t, {}, () => ({
      outbound: { connectionCache: { enabled: false } },
    }));
    t.same(await client(t, relay, 'a@origin.test'), DELIVERED(1));
    t.same(await client(t, relay, 'c@origin.test'), DELIVERED(2));
    t.same(
      hop.connections.map((c) => c.resumed),
      [false, true],
      'the hop saw a full handshake, then a resumed one',
    );
    const [first, second] = relay.transactions();
    t.match(first?.outboundTls, {
      protocol: 'TLSv1.3',
      verified: false,
      verifyError: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      peerSubject: 'CN=hop.test',
    });
    t.same(
      second?.outboundTls,
      { ...(first?.outboundTls as object), resumed: true },
      'the resumed session reports the same facts, and that it was resumed',
    );
    t.equal(metric(await relay.metricsText(), 'outbound_tls_resumptions_total'), 1);
  },
);

void t.test(
  'TLS resumption never turns a name mismatch into verified (Node skips the name check)',
  async (t) => {
    const ca = await createTestCa();
    const { hop, relay } = await setup(
      t,
      { pair: await ca.issue(['elsewhere.test']) },
      () => ({ outbound: { connectionCache: { enabled: false } } }),
      { outboundCa: ca.cert },
    );
    t.same(await client(t, relay, 'a@origin.test'), DELIVERED(1));
    t.same(await client(t, relay, 'c@origin.test'), DELIVERED(2));
    t.same(
      hop.connections.map((c) => c.resumed),
      [false, true],
    );
    const [first, second] = relay.transactions();
    t.match(first?.outboundTls, { verified: false, verifyError: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    t.match(second?.outboundTls, { verified: false, verifyError: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    t.match(
      await relay.metricsText(),
      /starttls_relay_outbound_tls_handshakes_total\{tls_version="TLSv1.3",verified="false"\} 2\n/,
    );
  },
);
