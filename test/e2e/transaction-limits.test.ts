// One transaction, one next hop: another hop's recipient gets 452 4.5.3; too many recipients 452 4.5.3; an oversized body 552 5.3.4 with the hop aborted; a 250 to DATA itself is never mirrored.
import t from 'tap';
import { startRawHop } from '../support/raw-hop.js';
import { startTestRelay } from '../support/relay.js';
import { settle, throughRawHop, tlsClient } from '../support/scenario.js';

void t.test('a recipient for another next hop is deferred to a new transaction', async (t) => {
  const one = await startRawHop();
  const two = await startRawHop();
  t.teardown(() => one.close());
  t.teardown(() => two.close());
  const relay = await startTestRelay({
    routes: [
      { domains: ['one.test'], nextHop: `127.0.0.1:${one.port}` },
      { domains: ['two.test'], nextHop: `127.0.0.1:${two.port}` },
    ],
  });
  t.teardown(() => relay.close());
  const c = await tlsClient(t, relay.port);
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<x@one.test>'), '250 Accepted');
  t.equal(
    await c.send('RCPT TO:<y@two.test>'),
    '452 4.5.3 Recipient uses another next hop, send it in a new transaction',
  );
  t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
  t.equal(await c.send('Subject: x\r\n\r\nbody\r\n.'), '250 2.0.0 Ok: queued');
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(
    await c.send('RCPT TO:<y@two.test>'),
    '250 Accepted',
    'the retry in a new transaction goes to the other hop',
  );
  t.equal(two.commands.length, 1);
  t.equal(one.bodies.length, 1);
});

void t.test('recipients beyond maxRecipients get 452 4.5.3', async (t) => {
  const { c } = await throughRawHop(t, (port) => ({
    relay: { maxRecipients: 2 },
    routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
  }));
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<r1@dest.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<r2@dest.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<r3@dest.test>'), '452 4.5.3 Too many recipients');
});

void t.test(
  'a body over maxMessageSize gets 552 5.3.4 and the hop never gets the end of data',
  async (t) => {
    const { hop, relay, c } = await throughRawHop(t, (port) => ({
      relay: { maxMessageSize: 4096 },
      routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
    }));
    t.equal(
      await c.send('MAIL FROM:<a@origin.test> SIZE=100000'),
      '552 Error: message exceeds fixed maximum message size 4096',
      'declared SIZE refused by the listener',
    );
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
    t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    c.write(`Subject: big\r\n\r\n${'0123456789abcdef'.repeat(1024)}\r\n.\r\n`);
    t.equal(await c.line(), '552 5.3.4 Message size exceeds fixed maximum message size');
    t.equal(hop.bodies.length, 0, 'the hop got no complete message');
    t.equal(await c.send('NOOP'), '250 OK', 'the client session goes on');
    await settle();
    t.match(relay.transactions()[0], {
      outcome: 'rejected',
      final: '552 5.3.4 Message size exceeds fixed maximum message size',
    });
  },
);

void t.test('a 250 to the DATA command itself becomes 451 4.4.2, never a 250', async (t) => {
  const { c } = await throughRawHop(
    t,
    (port) => ({
      routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
    }),
    { replies: { DATA: '250 2.0.0 I skipped 354' } },
  );
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
  t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
  t.equal(
    await c.send('Subject: x\r\n\r\nbody\r\n.'),
    '451 4.4.2 Next hop sent an invalid reply, try again later',
  );
});

void t.test(
  'parameters that were not advertised get 555 5.5.4, never silently dropped',
  async (t) => {
    const { c } = await throughRawHop(t, (port) => ({
      routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
    }));
    t.equal(
      await c.send('MAIL FROM:<a@origin.test> RET=HDRS'),
      '555 5.5.4 Unsupported MAIL parameter RET',
    );
    t.equal(
      await c.send('MAIL FROM:<a@origin.test> FOO=bar'),
      '555 5.5.4 Unsupported MAIL parameter FOO',
    );
    t.equal(
      await c.send('MAIL FROM:<a@origin.test> SIZE=100 BODY=8BITMIME SMTPUTF8'),
      '250 Accepted',
    );
    t.equal(
      await c.send('RCPT TO:<b@dest.test> NOTIFY=NEVER'),
      '555 5.5.4 Unsupported RCPT parameter NOTIFY',
    );
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
  },
);
