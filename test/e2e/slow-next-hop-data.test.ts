// A next hop slow to answer DATA while the client has already sent its whole body: every byte still arrives, nothing is lost.
import t from 'tap';
import { settle, throughRawHop } from '../support/scenario.js';

void t.test('the body waits for the hop’s 354 instead of being dropped', async (t) => {
  const { hop, relay, c } = await throughRawHop(
    t,
    (port) => ({
      routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
    }),
    { dataDelayMs: 300 },
  );
  const body = `Subject: slow\r\nMessage-ID: <m1@origin.test>\r\n\r\n${'line\r\n'.repeat(2000)}end`;
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
  t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
  c.write(`${body}\r\n.\r\n`);
  t.equal(await c.line(), '250 2.0.0 Ok: queued');
  const received = hop.bodies[0]?.toString() ?? '';
  t.equal(
    received.slice(received.indexOf('Subject:')),
    `${body}\r\n`,
    'the whole body after our Received header',
  );
  await settle();
  t.match(relay.transactions()[0], { outcome: 'delivered', size: body.length + 2 });
});
