// Per-route TLS levels end to end: verify and encrypt refuse at RCPT with 451 4.7.5 and deliver nothing when the next hop falls short; mutual TLS; a legacy hop on a lowered minVersion.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startNextHop, type NextHopBehaviour, type TestNextHop } from '../support/next-hop.js';
import { createTestCa, generateSelfSigned, type TestCa } from '../support/pki.js';
import { startTestRelay, type TestRelay } from '../support/relay.js';
import { settle, tlsClient, transact } from '../support/scenario.js';

const POLICY_UNMET = '451 4.7.5 TLS policy not met by any next hop, try again later';
const DELIVERED = {
  mail: '250 Accepted',
  rcpts: ['250 Accepted'],
  data: '354 End data with <CR><LF>.<CR><LF>',
  final: '250 2.0.0 Ok: queued as Q1',
};

let ca: TestCa;
let dir: string;
t.before(async () => {
  ca = await createTestCa();
  dir = await mkdtemp(join(tmpdir(), 'route-tls-'));
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

/** Writes PEM text to a file of the test's directory and returns its path. */
async function pemFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** A next hop behaving as told and a relay whose dest.test route has these TLS settings. */
async function routeTo(
  t: Test,
  behaviour: NextHopBehaviour,
  route: Record<string, unknown>,
): Promise<{ hop: TestNextHop; relay: TestRelay }> {
  const hop = await startNextHop(behaviour);
  t.teardown(() => hop.close());
  const relay = await startTestRelay({
    routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}`, ...route }],
  });
  t.teardown(() => relay.close());
  return { hop, relay };
}

/** One transaction, then QUIT so that the transaction is logged. */
async function send(t: Test, relay: TestRelay) {
  const c = await tlsClient(t, relay.port);
  const replies = await transact(
    c,
    'a@origin.test',
    ['b@dest.test'],
    'Subject: policy\r\n\r\nbody',
  );
  t.equal(await c.send('QUIT'), '221 Bye');
  await settle();
  return replies;
}

void t.test('verify: a certificate from another CA gets 451 4.7.5 and no MAIL', async (t) => {
  const other = await createTestCa('another CA');
  const caPath = await pemFile('ca-1.pem', ca.cert);
  const { hop, relay } = await routeTo(
    t,
    { tls: { kind: 'tls', pair: await other.issue(['127.0.0.1']) } },
    { tls: 'verify', ca: caPath },
  );
  t.same(await send(t, relay), { mail: '250 Accepted', rcpts: [POLICY_UNMET] });
  t.equal(hop.connections, 1, 'the hop was reached');
  t.same(hop.mailFroms, [], 'no MAIL reached the hop');
  t.same(hop.messages, [], 'nothing delivered');
  await settle();
  const metrics = await relay.metricsText();
  t.match(metrics, /starttls_relay_policy_refused_recipients_total\{policy="route"\} 1/);
  t.match(
    metrics,
    /starttls_relay_outbound_tls_failures_total\{result_type="certificate-not-trusted"\} 1/,
  );
  t.match(metrics, /starttls_relay_outbound_starttls_total\{result="policy_refused"\} 1/);
});

void t.test(
  'verify: wrong name and expired certificates are refused with their reason',
  async (t) => {
    const caPath = await pemFile('ca-2.pem', ca.cert);
    const cases = [
      { pair: await ca.issue(['other.test']), type: 'certificate-host-mismatch' },
      { pair: await ca.issue(['127.0.0.1'], { expired: true }), type: 'certificate-expired' },
    ];
    for (const { pair, type } of cases) {
      await t.test(type, async (t) => {
        const { hop, relay } = await routeTo(
          t,
          { tls: { kind: 'tls', pair } },
          { tls: 'verify', ca: caPath },
        );
        t.same(await send(t, relay), { mail: '250 Accepted', rcpts: [POLICY_UNMET] });
        t.same(hop.mailFroms, []);
        await settle();
        t.match(
          await relay.metricsText(),
          new RegExp(`starttls_relay_outbound_tls_failures_total\\{result_type="${type}"\\} 1`),
        );
        const rcptLog = relay.logs.find((l) => l.event === 'transaction');
        t.match(rcptLog, {
          failedAttempts: [{ address: '127.0.0.1', policy: 'route', resultType: type }],
          recipients: [{ to: 'b@dest.test', reply: POLICY_UNMET, source: 'relay' }],
        });
      });
    }
  },
);

void t.test(
  'verify: a certificate for the address, signed by the route CA, delivers',
  async (t) => {
    const caPath = await pemFile('ca-3.pem', ca.cert);
    const { hop, relay } = await routeTo(
      t,
      { tls: { kind: 'tls', pair: await ca.issue(['127.0.0.1']) } },
      { tls: 'verify', ca: caPath },
    );
    t.same(await send(t, relay), DELIVERED);
    t.equal(hop.messages.length, 1);
    await settle();
    t.match(relay.transactions()[0], {
      outcome: 'delivered',
      outboundTls: { starttls: 'encrypted', verified: true },
      outboundPolicy: {
        required: 'verified',
        checks: [{ source: 'route', minimum: 'verified', enforced: true, passed: true }],
      },
    });
  },
);

void t.test(
  'encrypt: no STARTTLS gets 451 4.7.5; a self-signed hop is encrypted, delivered',
  async (t) => {
    await t.test('not offered', async (t) => {
      const { hop, relay } = await routeTo(t, { tls: { kind: 'none' } }, { tls: 'encrypt' });
      t.same(await send(t, relay), { mail: '250 Accepted', rcpts: [POLICY_UNMET] });
      t.same(hop.mailFroms, [], 'nothing sent in plaintext');
      await settle();
      const metrics = await relay.metricsText();
      t.match(metrics, /starttls_relay_outbound_starttls_total\{result="failed_deferred"\} 1/);
      t.match(
        metrics,
        /starttls_relay_outbound_tls_failures_total\{result_type="starttls-not-supported"\} 1/,
      );
    });
    await t.test('self-signed', async (t) => {
      const { hop, relay } = await routeTo(
        t,
        { tls: { kind: 'tls', pair: await generateSelfSigned(['hop.test']) } },
        { tls: 'encrypt' },
      );
      t.same(await send(t, relay), DELIVERED);
      t.equal(hop.messages[0]?.tlsProtocol, 'TLSv1.3');
    });
  },
);

void t.test('encrypt: a broken handshake is never retried in plaintext', async (t) => {
  const { hop, relay } = await routeTo(
    t,
    { tls: { kind: 'broken', pair: await generateSelfSigned(['hop.test']) } },
    { tls: 'encrypt' },
  );
  t.same(await send(t, relay), { mail: '250 Accepted', rcpts: [POLICY_UNMET] });
  t.equal(hop.connections, 1, 'one connection: no plaintext retry');
  t.same(hop.mailFroms, []);
  await settle();
  t.match(
    await relay.metricsText(),
    /starttls_relay_outbound_tls_failures_total\{result_type="validation-failure"\} 1/,
  );
});

void t.test('mutual TLS: the route client certificate is presented and required', async (t) => {
  const caPath = await pemFile('ca-4.pem', ca.cert);
  const client = await ca.issue(['relay.test']);
  const certPath = await pemFile('client.pem', client.cert);
  const keyPath = await pemFile('client.key', client.key);
  const hopBehaviour: NextHopBehaviour = {
    tls: { kind: 'tls', pair: await ca.issue(['127.0.0.1']) },
    // The hop refuses a handshake without a client certificate from our CA.
    options: { requestCert: true, rejectUnauthorized: true, ca: ca.cert },
  };
  await t.test('with the client certificate: delivered', async (t) => {
    const { hop, relay } = await routeTo(t, hopBehaviour, {
      tls: 'verify',
      ca: caPath,
      clientCert: certPath,
      clientKey: keyPath,
    });
    t.same(await send(t, relay), DELIVERED);
    t.equal(hop.messages.length, 1);
  });
  await t.test('without it: the hop refuses the session, nothing is sent', async (t) => {
    const { hop, relay } = await routeTo(t, hopBehaviour, { tls: 'verify', ca: caPath });
    // TLS 1.3: the hop checks the client certificate after our side of the handshake completed,
    // so the refusal arrives as a closed connection (RFC 8446 §4.4.2.4), not as a TLS failure.
    t.same(await send(t, relay), {
      mail: '250 Accepted',
      rcpts: ['451 4.4.1 Next hop unavailable, try again later'],
    });
    t.same(hop.mailFroms, []);
  });
});

void t.test(
  'minVersion TLSv1 on a may route: a TLS 1.0-only hop gets TLS 1.0, not plaintext',
  async (t) => {
    const legacy: NextHopBehaviour = {
      tls: { kind: 'broken', pair: await generateSelfSigned(['hop.test']) },
    };
    await t.test('default floor TLSv1.2: plaintext after the failed handshake', async (t) => {
      const { hop, relay } = await routeTo(t, legacy, { tls: 'may' });
      t.same(await send(t, relay), DELIVERED);
      t.equal(hop.messages[0]?.tlsProtocol, null);
    });
    await t.test('minVersion TLSv1: encrypted with TLS 1.0 or 1.1', async (t) => {
      const { hop, relay } = await routeTo(t, legacy, { tls: 'may', minVersion: 'TLSv1' });
      t.same(await send(t, relay), DELIVERED);
      t.match(hop.messages[0]?.tlsProtocol, /^TLSv1(\.1)?$/);
      await settle();
      t.match(relay.transactions()[0], { outboundTls: { starttls: 'encrypted' } });
    });
  },
);

void t.test('a route CA file that is not PEM stops the relay at start-up', async (t) => {
  const bad = await pemFile('bad-ca.pem', 'not a certificate');
  await t.rejects(
    startTestRelay({
      routes: [{ domains: ['dest.test'], nextHop: '127.0.0.1:25', tls: 'verify', ca: bad }],
    }),
    /routes\[0\]: unusable TLS files/,
  );
});
