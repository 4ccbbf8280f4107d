// Catalogue rows DS-01 (connection and TLS floods: rates per address), DS-02 (idle), DS-03 (slowloris: per-command deadline, minimum data rate, session lifetime) and ST-04 (stalled handshake): real slow clients against tiny configured limits; each asserts the reply line and that the socket closed.
import { connect } from 'node:net';
import t from 'tap';
import { startNextHop } from '../../support/next-hop.js';
import { SmtpDialogue } from '../../support/smtp-client.js';
import { catalogueRelay, client, sample } from './catalogue-support.js';

const trickle = (c: SmtpDialogue, text: string, everyMs: number): NodeJS.Timeout => {
  let i = 0;
  const timer = setInterval(() => {
    if (c.closed || i >= text.length) {
      clearInterval(timer);
      return;
    }
    c.write(text[i++] ?? '');
  }, everyMs);
  return timer;
};

void t.test(
  'DS-01: past connectionRatePerMinute: 421 4.7.0 at connect, exempt networks pass',
  async (t) => {
    const relay = await catalogueRelay(t, {
      relay: { allowedNetworks: ['127.0.0.1/32'] },
      limits: { connectionRatePerMinute: 2 },
    });
    for (let i = 0; i < 2; i++) {
      const c = await client(t, relay.port, { ehlo: false, from: '127.0.0.2' });
      t.equal(await c.send('QUIT'), '221 Bye');
    }
    const refused = await SmtpDialogue.connect(relay.port, '127.0.0.1', '127.0.0.2');
    t.teardown(() => refused.close());
    t.equal(await refused.line(), '421 4.7.0 Error: too many connections from 127.0.0.2');
    await refused.waitClosed();
    const other = await client(t, relay.port, { ehlo: false, from: '127.0.0.3' });
    t.equal(await other.send('NOOP'), '250 OK', 'another address is not affected');
    for (let i = 0; i < 3; i++) {
      const trusted = await client(t, relay.port, { ehlo: false, from: '127.0.0.1' });
      t.equal(await trusted.send('QUIT'), '221 Bye', 'relay.allowedNetworks is exempt');
    }
    t.equal(
      await sample(
        relay,
        'starttls_relay_inbound_sessions_refused_total{listener="mta",reason="connection_rate"}',
      ),
      1,
    );
  },
);

void t.test(
  'DS-01: past tlsHandshakeRatePerMinute: 454 4.7.0 to STARTTLS, session open',
  async (t) => {
    const relay = await catalogueRelay(t, { limits: { tlsHandshakeRatePerMinute: 1 } });
    const first = await client(t, relay.port);
    await first.startTls();
    const second = await client(t, relay.port);
    t.equal(
      await second.send('STARTTLS'),
      '454 4.7.0 Error: too many new TLS sessions from 127.0.0.1',
    );
    t.equal(await second.send('NOOP'), '250 OK', 'the session stays usable in plaintext');
    t.equal(
      await sample(
        relay,
        'starttls_relay_inbound_starttls_refused_total{listener="mta",reason="tls_rate"}',
      ),
      1,
    );
  },
);

void t.test(
  'DS-02: a silent client gets 421 4.4.2 after idleTimeoutSeconds, then close',
  async (t) => {
    const relay = await catalogueRelay(t, { limits: { idleTimeoutSeconds: 1 } });
    const c = await client(t, relay.port);
    t.equal(await c.line(), '421 4.4.2 Error: timeout exceeded');
    await c.waitClosed();
    t.equal(
      await sample(relay, 'starttls_relay_inbound_timeouts_total{listener="mta",kind="idle"}'),
      1,
    );
  },
);

void t.test(
  'DS-03: a command trickled a byte every 300 ms: 421 4.4.2 at the command deadline',
  async (t) => {
    const relay = await catalogueRelay(t, { limits: { commandTimeoutSeconds: 1 } });
    const c = await client(t, relay.port);
    const timer = trickle(c, 'MAIL FROM:<slow@a.test>\r\n', 300);
    t.teardown(() => clearInterval(timer));
    t.equal(await c.line(), '421 4.4.2 Error: command not completed in time');
    await c.waitClosed();
    t.equal(
      await sample(relay, 'starttls_relay_inbound_timeouts_total{listener="mta",kind="command"}'),
      1,
    );
  },
);

void t.test(
  'DS-03: DATA trickled a byte every 300 ms against a 1 s window: 421 4.4.2',
  async (t) => {
    const hop = await startNextHop({ tls: { kind: 'none' } });
    t.teardown(() => hop.close());
    const relay = await catalogueRelay(t, {
      relay: { allowedNetworks: ['127.0.0.0/8'] },
      limits: { minDataRate: 100, dataRateWindowSeconds: 1 },
      routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}`, tls: 'none' }],
    });
    const c = await client(t, relay.port);
    t.equal(await c.send('MAIL FROM:<a@a.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
    t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    const timer = trickle(c, 'Subject: slow\r\n\r\n' + 'x'.repeat(100), 300);
    t.teardown(() => clearInterval(timer));
    t.equal(await c.line(), '421 4.4.2 Error: message data arriving too slowly');
    await c.waitClosed();
    t.equal(hop.messages.length, 0, 'nothing relayed');
    t.equal(
      await sample(relay, 'starttls_relay_inbound_timeouts_total{listener="mta",kind="data_rate"}'),
      1,
    );
  },
);

void t.test('DS-03: maxSessionSeconds ends a busy session with 421 4.4.2', async (t) => {
  const relay = await catalogueRelay(t, { limits: { maxSessionSeconds: 1 } });
  const c = await client(t, relay.port);
  const timer = setInterval(() => c.write('NOOP\r\n'), 200);
  t.teardown(() => clearInterval(timer));
  let last = '';
  while (!c.closed && last !== '421 4.4.2 Error: session lasted too long') {
    last = await c.line().catch(() => last);
    if (last !== '250 OK') break;
  }
  t.equal(last, '421 4.4.2 Error: session lasted too long');
  await c.waitClosed();
  t.equal(
    await sample(
      relay,
      'starttls_relay_inbound_timeouts_total{listener="mta",kind="session_lifetime"}',
    ),
    1,
  );
});

void t.test(
  'ST-04: STARTTLS then a trickled ClientHello: closed at the handshake deadline, no SMTP text',
  async (t) => {
    const relay = await catalogueRelay(t, { limits: { tlsHandshakeTimeoutSeconds: 1 } });
    const socket = connect({ port: relay.port, host: '127.0.0.1' });
    t.teardown(() => socket.destroy());
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    await new Promise((resolve) => setTimeout(resolve, 300));
    socket.write('EHLO client.test\r\nSTARTTLS\r\n');
    while (!received.includes('220 Ready to start TLS\r\n'))
      await new Promise((r) => setTimeout(r, 20));
    const before = received;
    socket.write(Buffer.from([0x16, 0x03, 0x01, 0x40, 0x00]));
    const timer = setInterval(() => socket.write(Buffer.from([0])), 100);
    t.teardown(() => clearInterval(timer));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    clearInterval(timer);
    t.equal(received, before, 'nothing written after 220 Ready to start TLS');
    t.equal(
      await sample(
        relay,
        'starttls_relay_inbound_timeouts_total{listener="mta",kind="tls_handshake"}',
      ),
      1,
    );
  },
);
