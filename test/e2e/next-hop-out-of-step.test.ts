// Next hops that misbehave mid-transaction: an idle close, a reply before our data, a reply queued behind 354, a 3xx where none belongs. Never a 250 the hop did not give, never a hang.
import t, { type Test } from 'tap';
import { startRawHop, type RawHopOptions } from '../support/raw-hop.js';
import { startTestRelay } from '../support/relay.js';
import { tlsClient } from '../support/scenario.js';
import type { SmtpDialogue } from '../support/smtp-client.js';

async function through(
  t: Test,
  opts: RawHopOptions,
): Promise<{ c: SmtpDialogue; hop: Awaited<ReturnType<typeof startRawHop>> }> {
  const hop = await startRawHop(opts);
  t.teardown(() => hop.close());
  const relay = await startTestRelay({
    routes: [{ domains: ['*'], nextHop: `127.0.0.1:${hop.port}` }],
  });
  t.teardown(() => relay.close());
  return { c: await tlsClient(t, relay.port), hop };
}

void t.test(
  'the hop closes after accepting a recipient: the transaction is lost, never moved to a new session',
  async (t) => {
    const { c, hop } = await through(t, { closeAfter: 'RCPT TO:<b1@' });
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<b1@dest.test>'), '250 Accepted');
    t.equal(
      await c.send('RCPT TO:<b2@dest.test>'),
      '451 4.4.2 Connection to the next hop lost, try again later',
    );
    t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    t.equal(
      await c.send('Subject: x\r\n\r\nbody\r\n.'),
      '451 4.4.2 Connection to the next hop lost, try again later',
    );
    t.equal(hop.commands.length, 1, 'no second session carried RCPT without MAIL');
    t.equal(hop.bodies.length, 0);
  },
);

void t.test(
  'a hop that refuses before our dot: its refusal, at once, the rest of the body drained',
  async (t) => {
    const { c, hop } = await through(t, { earlyDataReply: '552 5.3.4 Too much mail data' });
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
    t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    c.write(`Subject: big\r\n\r\n${'x'.repeat(998)}\r\n`.repeat(3000));
    c.write('.\r\n');
    t.equal(await c.line(), '552 5.3.4 Too much mail data');
    t.equal(hop.bodies.length, 0);
    t.equal(await c.send('NOOP'), '250 OK', 'the client session goes on');
  },
);

void t.test('a 250 written right behind the 354 is never mirrored', async (t) => {
  const { c } = await through(t, { replies: { DATA: '354 go\r\n250 2.0.0 premature' } });
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
  t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
  t.equal(
    await c.send('Subject: x\r\n\r\nbody\r\n.'),
    '451 4.4.2 Next hop sent an invalid reply, try again later',
  );
});

void t.test('a 3xx reply to RCPT or to the final dot is out of step: 451 4.4.2', async (t) => {
  const rcpt = await through(t, { replies: { 'RCPT TO:<odd@': '354 huh' } });
  t.equal(await rcpt.c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(
    await rcpt.c.send('RCPT TO:<odd@dest.test>'),
    '451 4.4.2 Next hop sent an invalid reply, try again later',
  );
  const dot = await through(t, { replies: { '.': '354 more?' } });
  t.equal(await dot.c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await dot.c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
  t.equal(await dot.c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
  t.equal(
    await dot.c.send('Subject: x\r\n\r\nbody\r\n.'),
    '451 4.4.2 Next hop sent an invalid reply, try again later',
  );
});

void t.test(
  'DATA refused by the hop: mirrored, and the next transaction starts with RSET',
  async (t) => {
    const { c, hop } = await through(t, { replies: { DATA: '554 5.7.1 Data refused by policy' } });
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
    t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    t.equal(await c.send('Subject: x\r\n\r\nbody\r\n.'), '554 5.7.1 Data refused by policy');
    t.equal(await c.send('MAIL FROM:<c@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<d@dest.test>'), '250 Accepted');
    t.same(
      (hop.commands[0] ?? []).filter((l) => !l.startsWith('EHLO')),
      [
        'MAIL FROM:<a@origin.test>',
        'RCPT TO:<b@dest.test>',
        'DATA',
        'RSET',
        'MAIL FROM:<c@origin.test>',
        'RCPT TO:<d@dest.test>',
      ],
    );
  },
);
