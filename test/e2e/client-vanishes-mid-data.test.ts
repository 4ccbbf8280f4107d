// A client that disconnects mid-DATA: the next hop never receives the terminating dot, so nothing is delivered.
import t from 'tap';
import { settle, throughRawHop } from '../support/scenario.js';

void t.test(
  'the hop gets no complete message and the transaction is logged as aborted',
  async (t) => {
    const { hop, relay, c } = await throughRawHop(t, (port) => ({
      routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
    }));
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
    t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    c.write('Subject: partial\r\n\r\nfirst part of the body\r\n');
    await settle(200);
    c.close();
    for (let i = 0; i < 50 && relay.transactions().length === 0; i++) await settle(20);
    t.match(relay.transactions()[0], { outcome: 'aborted' });
    t.equal(hop.bodies.length, 0, 'no terminating dot reached the hop');
    t.match(await relay.metricsText(), /starttls_relay_messages_total\{outcome="aborted"\} 1/);
  },
);
