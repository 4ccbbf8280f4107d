// A next hop that is down: the recipient gets 451 4.4.1, nothing is accepted, the attempt is logged.
import t from 'tap';
import { deadPort } from '../support/next-hop.js';
import { startTestRelay } from '../support/relay.js';
import { settle, tlsClient } from '../support/scenario.js';

void t.test('answers 451 4.4.1 when no next-hop address accepts a connection', async (t) => {
  const port = await deadPort();
  const relay = await startTestRelay({
    routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${port}` }],
  });
  t.teardown(() => relay.close());
  const c = await tlsClient(t, relay.port);
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<b@dest.test>'), '451 4.4.1 Next hop unavailable, try again later');
  t.equal(await c.send('DATA'), '503 Error: need RCPT command');
  t.equal(await c.send('QUIT'), '221 Bye');
  await settle();
  t.match(relay.transactions()[0], {
    outcome: 'abandoned',
    recipients: [
      {
        to: 'b@dest.test',
        reply: '451 4.4.1 Next hop unavailable, try again later',
        source: 'relay',
      },
    ],
    failedAttempts: [{ host: '127.0.0.1', address: '127.0.0.1', port, error: /ECONNREFUSED/ }],
  });
  t.match(await relay.metricsText(), /starttls_relay_outbound_connect_failures_total 1\n/);
});
