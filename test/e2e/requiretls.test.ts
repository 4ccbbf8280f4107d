// REQUIRETLS (RFC 8689) end to end: advertised after STARTTLS only when every route can honour it; a REQUIRETLS message goes only to a verified next hop that offers REQUIRETLS, and gets 550 5.7.30 otherwise.
import t, { type Test } from 'tap';
import { startNextHop, type NextHopBehaviour, type TestNextHop } from '../support/next-hop.js';
import { createTestCa, generateSelfSigned, type TestCa } from '../support/pki.js';
import { startTestRelay, type TestRelay } from '../support/relay.js';
import { settle, tlsClient } from '../support/scenario.js';
import { SmtpDialogue } from '../support/smtp-client.js';

const UNSUPPORTED = '550 5.7.30 REQUIRETLS support required';

let ca: TestCa;
t.before(async () => {
  ca = await createTestCa();
});

async function routeTo(
  t: Test,
  behaviour: NextHopBehaviour,
  route: Record<string, unknown> = {},
): Promise<{ hop: TestNextHop; relay: TestRelay }> {
  const hop = await startNextHop(behaviour);
  t.teardown(() => hop.close());
  const relay = await startTestRelay(
    { routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}`, ...route }] },
    { outboundCa: ca.cert },
  );
  t.teardown(() => relay.close());
  return { hop, relay };
}

const offersRequireTls = { hideREQUIRETLS: false };

void t.test('advertised after STARTTLS, never before, when the routes can honour it', async (t) => {
  const { relay } = await routeTo(t, { tls: { kind: 'tls', pair: await ca.issue(['127.0.0.1']) } });
  const c = await SmtpDialogue.connect(relay.port);
  t.teardown(() => c.close());
  await c.line();
  c.write('EHLO client.test\r\n');
  t.notOk((await c.reply()).includes('250-REQUIRETLS'), 'not in plaintext (RFC 8689 §4.1)');
  c.write('RSET\r\n');
  await c.line();
  t.ok((await c.startTls()).includes('250-REQUIRETLS'), 'offered after STARTTLS');
});

void t.test('a route with tls: none: not advertised, and the parameter is refused', async (t) => {
  const { relay } = await routeTo(t, { tls: { kind: 'none' } }, { tls: 'none' });
  const c = await SmtpDialogue.connect(relay.port);
  t.teardown(() => c.close());
  await c.line();
  t.notOk((await c.startTls()).includes('250-REQUIRETLS'));
  t.equal(
    await c.send('MAIL FROM:<a@origin.test> REQUIRETLS'),
    '555 5.5.4 Unsupported MAIL parameter REQUIRETLS',
  );
});

void t.test(
  'a verified next hop that offers REQUIRETLS gets the message and the parameter',
  async (t) => {
    const { hop, relay } = await routeTo(t, {
      tls: { kind: 'tls', pair: await ca.issue(['127.0.0.1']) },
      options: offersRequireTls,
    });
    const c = await tlsClient(t, relay.port);
    t.equal(await c.send('MAIL FROM:<a@origin.test> REQUIRETLS'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
    t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    t.equal(await c.send('Subject: rtls\r\n\r\nbody\r\n.'), '250 2.0.0 Ok: queued as Q1');
    t.same(hop.messages[0]?.mailArgs, { REQUIRETLS: true });
    t.equal(hop.messages[0]?.tlsProtocol, 'TLSv1.3');
  },
);

void t.test(
  '550 5.7.30 when the next hop lacks REQUIRETLS or its TLS does not verify',
  async (t) => {
    const cases: Array<[string, NextHopBehaviour]> = [
      [
        'verified, REQUIRETLS not offered',
        { tls: { kind: 'tls', pair: await ca.issue(['127.0.0.1']) } },
      ],
      [
        'REQUIRETLS offered, self-signed certificate',
        {
          tls: { kind: 'tls', pair: await generateSelfSigned(['hop.test']) },
          options: offersRequireTls,
        },
      ],
    ];
    for (const [name, behaviour] of cases) {
      await t.test(name, async (t) => {
        const { hop, relay } = await routeTo(t, behaviour);
        const c = await tlsClient(t, relay.port);
        t.equal(await c.send('MAIL FROM:<a@origin.test> REQUIRETLS'), '250 Accepted');
        t.equal(await c.send('RCPT TO:<b@dest.test>'), UNSUPPORTED);
        t.same(hop.mailFroms, [], 'the message never reached the hop');
        t.equal(await c.send('QUIT'), '221 Bye');
        await settle();
        t.match(
          await relay.metricsText(),
          /starttls_relay_policy_refused_recipients_total\{policy="requiretls"\} 1/,
        );
      });
    }
  },
);

void t.test(
  'the same client session: a plain message, then a REQUIRETLS one needs a verified session',
  async (t) => {
    const { hop, relay } = await routeTo(t, {
      tls: { kind: 'tls', pair: await generateSelfSigned(['hop.test']) },
      options: offersRequireTls,
    });
    const c = await tlsClient(t, relay.port);
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(
      await c.send('RCPT TO:<b@dest.test>'),
      '250 Accepted',
      'opportunistic: unverified is fine',
    );
    t.equal(await c.send('RSET'), '250 Flushed');
    t.equal(await c.send('MAIL FROM:<a@origin.test> REQUIRETLS'), '250 Accepted');
    t.equal(
      await c.send('RCPT TO:<b@dest.test>'),
      UNSUPPORTED,
      'the unverified session is not reused',
    );
    t.same(hop.mailFroms, ['a@origin.test'], 'only the plain transaction reached the hop');
  },
);

void t.test(
  'a legacy minVersion never carries REQUIRETLS: TLS 1.0 is refused, 451 4.7.5',
  async (t) => {
    const { hop, relay } = await routeTo(
      t,
      {
        // Speaks TLS 1.0/1.1 only, with a certificate that verifies, and offers REQUIRETLS.
        tls: { kind: 'broken', pair: await ca.issue(['127.0.0.1']) },
        options: offersRequireTls,
      },
      { tls: 'may', minVersion: 'TLSv1' },
    );
    const c = await tlsClient(t, relay.port);
    t.equal(await c.send('MAIL FROM:<a@origin.test> REQUIRETLS'), '250 Accepted');
    t.equal(
      await c.send('RCPT TO:<b@dest.test>'),
      '451 4.7.5 TLS policy not met by any next hop, try again later',
      'a handshake failure may heal: temporary',
    );
    t.same(hop.mailFroms, []);
    t.equal(await c.send('RSET'), '250 Flushed');
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(
      await c.send('RCPT TO:<b@dest.test>'),
      '250 Accepted',
      'ordinary mail: TLS 1.0 is fine',
    );
    t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    t.equal(await c.send('Subject: legacy\r\n\r\nbody\r\n.'), '250 2.0.0 Ok: queued as Q1');
    t.match(hop.messages[0]?.tlsProtocol, /^TLSv1(\.1)?$/);
  },
);
