// A next hop with a self-signed certificate: opportunistic policy still encrypts, and records why it is not verified.
import t from 'tap';
import { generateSelfSigned } from '../support/pki.js';
import { relayAndHop, settle, tlsClient, transact } from '../support/scenario.js';

void t.test('delivers over unverified TLS and records the verification error', async (t) => {
  const { hop, relay } = await relayAndHop(t, {
    tls: { kind: 'tls', pair: await generateSelfSigned(['hop.test']) },
  });
  const c = await tlsClient(t, relay.port);
  const r = await transact(c, 'a@origin.test', ['b@dest.test'], 'Subject: x\r\n\r\nbody');
  t.same(r, {
    mail: '250 Accepted',
    rcpts: ['250 Accepted'],
    data: '354 End data with <CR><LF>.<CR><LF>',
    final: '250 2.0.0 Ok: queued as Q1',
  });
  t.equal(hop.messages[0]?.tlsProtocol, 'TLSv1.3');
  await settle();
  t.match(relay.transactions()[0], {
    outcome: 'delivered',
    outboundTls: {
      starttls: 'encrypted',
      protocol: 'TLSv1.3',
      verified: false,
      verifyError: 'DEPTH_ZERO_SELF_SIGNED_CERT',
      peerSubject: 'CN=hop.test',
    },
  });
  t.match(
    await relay.metricsText(),
    /starttls_relay_hop_tls_messages_total\{hop="outbound",tls_version="TLSv1.3",verified="false"\} 1/,
  );
});
