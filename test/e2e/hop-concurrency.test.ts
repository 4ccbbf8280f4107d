// The per-next-hop connection cap: past outbound.maxConnectionsPerHop an RCPT waits (first come, first served) for a session handed back or a slot freed, hears 451 4.4.5 when the wait runs out, reclaims a session an idle client holds, and leaves the queue when its client leaves.
import t, { type Test } from 'tap';
import { startNextHop, type TestNextHop } from '../support/next-hop.js';
import { startRawHop } from '../support/raw-hop.js';
import { generateSelfSigned } from '../support/pki.js';
import { startTestRelay, type TestRelay } from '../support/relay.js';
import { settle, tlsClient } from '../support/scenario.js';
import type { SmtpDialogue } from '../support/smtp-client.js';

const CONGESTED = '451 4.4.5 Too many connections to the next hop, try again later';
const DATA_GO = '354 End data with <CR><LF>.<CR><LF>';

/** A real smtp-server next hop that counts its connections: in all, open now, most at once. */
interface CountingHop {
  readonly hop: TestNextHop;
  readonly seen: { total: number; now: number; most: number };
}

async function setup(
  t: Test,
  outbound: Record<string, unknown>,
): Promise<{ counting: CountingHop; relay: TestRelay }> {
  const seen = { total: 0, now: 0, most: 0 };
  const hop = await startNextHop({
    tls: { kind: 'tls', pair: await generateSelfSigned(['hop.test']) },
    options: {
      onConnect(_session, cb) {
        seen.total += 1;
        seen.now += 1;
        seen.most = Math.max(seen.most, seen.now);
        cb();
      },
      onClose() {
        seen.now -= 1;
      },
    },
  });
  t.teardown(() => hop.close());
  const relay = await startTestRelay({
    routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}` }],
    outbound,
  });
  t.teardown(() => relay.close());
  return { counting: { hop, seen }, relay };
}

function metric(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`starttls_relay_${series} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

async function until(check: () => Promise<boolean> | boolean): Promise<boolean> {
  for (let i = 0; i < 250; i++) {
    if (await check()) return true;
    await settle(20);
  }
  return check();
}

const waitingNow = async (relay: TestRelay): Promise<number | undefined> =>
  metric(await relay.metricsText(), 'outbound_connection_waiting_recipients');

/** DATA, the body and its final reply line, after a 250 to RCPT. */
async function finishData(c: SmtpDialogue, subject: string): Promise<string> {
  const go = await c.send('DATA');
  if (go !== DATA_GO) return go;
  c.write(`Subject: ${subject}\r\n\r\nbody\r\n.\r\n`);
  return c.line();
}

void t.test(
  'cap 2, six clients at once: all six delivered, the next hop never sees more than 2 connections',
  async (t) => {
    const { counting, relay } = await setup(t, { maxConnectionsPerHop: 2 });
    const clients = await Promise.all([1, 2, 3, 4, 5, 6].map(() => tlsClient(t, relay.port)));
    for (const [i, c] of clients.entries()) {
      t.equal(await c.send(`MAIL FROM:<s${i}@origin.test>`), '250 Accepted');
    }
    const rcpts = clients.map((c) => c.send('RCPT TO:<b@dest.test>'));
    t.ok(await until(async () => (await waitingNow(relay)) === 4), 'four RCPTs wait at the cap');
    t.ok(await until(() => counting.seen.now === 2), 'the hop has two connections');
    t.equal(counting.seen.most, 2, 'and never had more');
    const finals = await Promise.all(
      clients.map(async (c, i) => {
        const rcpt = await rcpts[i];
        if (rcpt !== '250 Accepted') return `RCPT: ${rcpt}`;
        const final = await finishData(c, `s${i}`);
        t.equal(await c.send('QUIT'), '221 Bye');
        return final;
      }),
    );
    t.same(
      [...finals].sort(),
      [1, 2, 3, 4, 5, 6].map((n) => `250 2.0.0 Ok: queued as Q${n}`),
      'every client heard the next hop accept its message',
    );
    t.equal(counting.hop.messages.length, 6);
    t.equal(counting.seen.most, 2, 'never more than 2 at once');
    t.equal(
      counting.seen.total,
      2,
      'the waiters were handed the sessions the others finished with',
    );
    const text = await relay.metricsText();
    t.equal(metric(text, 'outbound_connection_waits_total{outcome="served"}'), 4);
    t.equal(metric(text, 'outbound_connection_waits_total{outcome="timed_out"}'), 0);
    t.equal(metric(text, 'outbound_connection_waiting_recipients'), 0);
  },
);

void t.test(
  'cap 1, a transaction holds the only connection: the waiting RCPT hears 451 4.4.5 after the wait; the holder is delivered',
  async (t) => {
    const { counting, relay } = await setup(t, {
      maxConnectionsPerHop: 1,
      connectionWaitSeconds: 1,
    });
    const a = await tlsClient(t, relay.port);
    t.equal(await a.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await a.send('RCPT TO:<b@dest.test>'), '250 Accepted');
    const b = await tlsClient(t, relay.port);
    t.equal(await b.send('MAIL FROM:<c@origin.test>'), '250 Accepted');
    t.equal(await b.send('RCPT TO:<d@dest.test>'), CONGESTED);
    t.equal(await finishData(a, 'a'), '250 2.0.0 Ok: queued as Q1');
    t.equal(counting.seen.total, 1);
    t.same(counting.hop.mailFroms, ['a@origin.test'], 'the refused sender never reached the hop');
    const text = await relay.metricsText();
    t.equal(metric(text, 'outbound_connection_waits_total{outcome="timed_out"}'), 1);
    t.equal(metric(text, 'outbound_connection_waits_total{outcome="served"}'), 0);
    t.equal(
      metric(text, 'recipients_total{outcome="deferred",source="relay"}'),
      1,
      'a deferral by the relay itself',
    );
  },
);

void t.test(
  'cap 1, a client idles between transactions: another client reclaims its session, then the first sends again',
  async (t) => {
    const { counting, relay } = await setup(t, { maxConnectionsPerHop: 1 });
    const a = await tlsClient(t, relay.port);
    t.equal(await a.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await a.send('RCPT TO:<b@dest.test>'), '250 Accepted');
    t.equal(await finishData(a, 'a1'), '250 2.0.0 Ok: queued as Q1');

    const b = await tlsClient(t, relay.port);
    t.equal(await b.send('MAIL FROM:<c@origin.test>'), '250 Accepted');
    t.equal(await b.send('RCPT TO:<d@dest.test>'), '250 Accepted');
    t.equal(await finishData(b, 'b'), '250 2.0.0 Ok: queued as Q2');
    t.equal(await b.send('QUIT'), '221 Bye');

    t.equal(await a.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await a.send('RCPT TO:<e@dest.test>'), '250 Accepted');
    t.equal(await finishData(a, 'a2'), '250 2.0.0 Ok: queued as Q3');
    t.same(
      counting.hop.messages.map((m) => m.rcptTo),
      [['b@dest.test'], ['d@dest.test'], ['e@dest.test']],
    );
    t.equal(counting.seen.total, 1, 'one connection carried all three');
    t.equal(counting.seen.most, 1);
    t.equal(
      metric(await relay.metricsText(), 'outbound_connection_waits_total{outcome="served"}'),
      1,
    );
  },
);

void t.test(
  'cap 1, a waiting client disconnects: it leaves the queue and the next waiter is still served',
  async (t) => {
    const { counting, relay } = await setup(t, { maxConnectionsPerHop: 1 });
    const a = await tlsClient(t, relay.port);
    t.equal(await a.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await a.send('RCPT TO:<b@dest.test>'), '250 Accepted');

    const b = await tlsClient(t, relay.port);
    t.equal(await b.send('MAIL FROM:<gone@origin.test>'), '250 Accepted');
    b.write('RCPT TO:<x@dest.test>\r\n');
    t.ok(await until(async () => (await waitingNow(relay)) === 1), 'b waits');
    const c = await tlsClient(t, relay.port);
    t.equal(await c.send('MAIL FROM:<c@origin.test>'), '250 Accepted');
    const cRcpt = c.send('RCPT TO:<d@dest.test>');
    t.ok(await until(async () => (await waitingNow(relay)) === 2), 'c waits behind b');

    b.close();
    t.ok(await until(async () => (await waitingNow(relay)) === 1), 'b left the queue');
    t.equal(
      metric(await relay.metricsText(), 'outbound_connection_waits_total{outcome="abandoned"}'),
      1,
    );

    t.equal(await finishData(a, 'a'), '250 2.0.0 Ok: queued as Q1');
    t.equal(await cRcpt, '250 Accepted', 'c got the session a finished with');
    t.equal(await finishData(c, 'c'), '250 2.0.0 Ok: queued as Q2');
    t.same(counting.hop.mailFroms, ['a@origin.test', 'c@origin.test'], 'nothing sent for b');
    t.equal(counting.seen.total, 1);
    const text = await relay.metricsText();
    t.equal(metric(text, 'outbound_connection_waits_total{outcome="served"}'), 1);
    t.equal(metric(text, 'outbound_connection_waits_total{outcome="abandoned"}'), 1);
    t.equal(metric(text, 'outbound_connection_waiting_recipients'), 0);
  },
);

void t.test(
  'cap 1, a client resets its open transaction and idles: the waiter gets a connection at once',
  async (t) => {
    const { counting, relay } = await setup(t, {
      maxConnectionsPerHop: 1,
      connectionWaitSeconds: 5,
    });
    const a = await tlsClient(t, relay.port);
    t.equal(await a.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await a.send('RCPT TO:<b@dest.test>'), '250 Accepted');
    t.equal(await a.send('RSET'), '250 Flushed');

    const b = await tlsClient(t, relay.port);
    t.equal(await b.send('MAIL FROM:<c@origin.test>'), '250 Accepted');
    t.equal(await b.send('RCPT TO:<d@dest.test>'), '250 Accepted', 'not 451 4.4.5 after 5 s');
    t.equal(await finishData(b, 'b'), '250 2.0.0 Ok: queued as Q1');
    t.same(
      counting.hop.messages.map((m) => m.mailFrom),
      ['c@origin.test'],
      'nothing of the reset transaction was delivered',
    );
    t.equal(counting.seen.total, 2, "a's session, its transaction open, was closed, not handed on");
    t.equal(counting.seen.most, 1);
  },
);

void t.test(
  'a next hop that refuses DATA early and answers the dot later: its session is never handed on',
  async (t) => {
    // The hop stops reading when the body starts, sends 552 at once, then reads on and answers
    // our dot too: a session reused after that reads every reply one behind.
    const hop = await startRawHop({
      earlyDataReply: '552 5.3.4 early refusal',
      earlyDataPauseMs: 600,
      replies: { 'RCPT TO:<bad': '550 5.1.1 no such user' },
    });
    t.teardown(() => hop.close());
    const relay = await startTestRelay({
      routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}` }],
      outbound: { maxConnectionsPerHop: 1 },
    });
    t.teardown(() => relay.close());
    const a = await tlsClient(t, relay.port);
    const b = await tlsClient(t, relay.port);
    t.equal(await a.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await a.send('RCPT TO:<ok@dest.test>'), '250 Accepted');
    t.equal(await b.send('MAIL FROM:<b@origin.test>'), '250 Accepted');
    const bRcpt = b.send('RCPT TO:<good@dest.test>');
    t.ok(await until(async () => (await waitingNow(relay)) === 1), 'b waits at the cap');
    t.equal(await a.send('DATA'), DATA_GO);
    a.write(`Subject: x\r\n\r\n${`${'y'.repeat(70)}\r\n`.repeat(900)}.\r\n`);
    t.equal(await a.line(), '552 5.3.4 early refusal', "the hop's refusal is mirrored");
    t.equal(await bRcpt, '250 Accepted', "b hears the hop's reply to its own RCPT");
    t.equal(await b.send('RCPT TO:<bad@dest.test>'), '550 5.1.1 no such user');
    t.equal(hop.commands.length, 2, 'b was given a new connection');
    t.same(hop.commands[1]?.slice(-2), ['RCPT TO:<good@dest.test>', 'RCPT TO:<bad@dest.test>']);
  },
);
