// AUTH passthrough: the client's credentials are checked by a real next hop that requires AUTH, and the session that accepted them carries the client's mail.
import t, { type Test } from 'tap';
import { deadPort, startNextHop } from '../support/next-hop.js';
import { createTestCa } from '../support/pki.js';
import { startTestRelay } from '../support/relay.js';
import { settle, tlsClient } from '../support/scenario.js';

const plain = (user: string, pw: string): string =>
  Buffer.from(`\0${user}\0${pw}`).toString('base64');

async function passthroughRelay(t: Test, hopPort: number, overrides: { outboundCa?: string } = {}) {
  const relay = await startTestRelay(
    {
      listeners: [{ name: 'submission', mode: 'submission', host: '127.0.0.1', port: 0 }],
      auth: { passthrough: true, failures: { delayMs: 0 } },
      relay: { allowedNetworks: [], acceptDomains: [] },
      routes: [{ domains: ['*'], nextHop: `127.0.0.1:${hopPort}` }],
    },
    overrides,
  );
  t.teardown(() => relay.close());
  return relay;
}

void t.test(
  'credentials the next hop accepts: 235, and mail goes out on that authenticated session',
  async (t) => {
    const ca = await createTestCa();
    const hop = await startNextHop({
      tls: { kind: 'tls', pair: await ca.issue(['127.0.0.1']) },
      users: { alice: 's3cret' },
    });
    t.teardown(() => hop.close());
    const relay = await passthroughRelay(t, hop.port, { outboundCa: ca.cert });
    const c = await tlsClient(t, relay.port);
    t.equal(
      await c.send(`AUTH PLAIN ${plain('alice', 'nope')}`),
      '535 5.7.8 Authentication credentials invalid',
      'the hop said no',
    );
    t.equal(
      await c.send(`AUTH PLAIN ${plain('alice', 's3cret')}`),
      '235 Authentication successful',
    );
    for (const n of [1, 2]) {
      t.equal(await c.send('MAIL FROM:<alice@origin.test>'), '250 Accepted');
      t.equal(
        await c.send(`RCPT TO:<r${n}@anywhere${n}.test>`),
        '250 Accepted',
        'every domain goes to the authenticated hop',
      );
      t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
      t.equal(await c.send(`Subject: ${n}\r\n\r\nbody\r\n.`), `250 2.0.0 Ok: queued as Q${n}`);
    }
    t.same(
      hop.messages.map((m) => [m.user, m.rcptTo, m.tlsProtocol]),
      [
        ['alice', ['r1@anywhere1.test'], 'TLSv1.3'],
        ['alice', ['r2@anywhere2.test'], 'TLSv1.3'],
      ],
    );
    t.equal(hop.connections, 2, 'one session for the refused AUTH, one carrying both messages');
    await settle();
    t.match(relay.transactions()[0], { user: 'alice', outboundTls: { verified: true } });
    t.notOk(relay.rawLogs().includes('s3cret'), 'the password is never logged');
  },
);

void t.test('a next hop that cannot be reached: 454 4.7.0, not counted as a failure', async (t) => {
  const relay = await passthroughRelay(t, await deadPort());
  const c = await tlsClient(t, relay.port);
  t.equal(
    await c.send(`AUTH PLAIN ${plain('alice', 's3cret')}`),
    '454 4.7.0 Temporary authentication failure',
  );
  await settle();
  t.match(
    await relay.metricsText(),
    /starttls_relay_auth_attempts_total\{listener="submission",mechanism="PLAIN",outcome="error"\} 1/,
  );
});
