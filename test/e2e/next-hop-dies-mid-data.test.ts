// A next hop that dies mid-DATA: the client gets 451 4.4.2 after its body, never a 250, and keeps the message.
import t from 'tap';
import { createTestCa } from '../support/pki.js';
import { relayAndHop, settle, tlsClient } from '../support/scenario.js';

void t.test('answers 451 4.4.2 when the hop vanishes during the body', async (t) => {
  const ca = await createTestCa();
  const { hop, relay } = await relayAndHop(t, {
    tls: { kind: 'tls', pair: await ca.issue(['127.0.0.1']) },
    dieAfterBytes: 1,
  });
  const c = await tlsClient(t, relay.port);
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
  t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
  c.write(`Subject: x\r\n\r\n${'line of body text\r\n'.repeat(20000)}.\r\n`);
  t.equal(await c.line(), '451 4.4.2 Connection to the next hop lost, try again later');
  t.equal(hop.messages.length, 0);
  // The session goes on: the next transaction opens a new next-hop session.
  t.equal(await c.send('RSET'), '250 Flushed');
  t.equal(await c.send('NOOP'), '250 OK');
  await settle();
  t.match(relay.transactions()[0], {
    outcome: 'deferred',
    final: '451 4.4.2 Connection to the next hop lost, try again later',
  });
  t.match(await relay.metricsText(), /starttls_relay_messages_total\{outcome="deferred"\} 1/);
});
