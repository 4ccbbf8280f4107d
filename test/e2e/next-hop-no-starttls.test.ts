// A next hop that offers no STARTTLS: delivered in plaintext, counted as not_offered, logged as TLS none.
import t from 'tap';
import { relayAndHop, settle, tlsClient, transact } from '../support/scenario.js';

void t.test('delivers in plaintext and records not_offered', async (t) => {
  const { hop, relay } = await relayAndHop(t, { tls: { kind: 'none' } });
  const c = await tlsClient(t, relay.port);
  const r = await transact(c, 'a@origin.test', ['b@dest.test'], 'Subject: x\r\n\r\nbody');
  t.equal(r.final, '250 2.0.0 Ok: queued as Q1');
  t.equal(hop.messages.length, 1);
  t.equal(hop.messages[0]?.tlsProtocol, null, 'the hop saw no TLS');
  await settle();
  t.match(relay.transactions()[0], {
    outboundTls: { starttls: 'not_offered', protocol: null, verified: false },
    inboundTls: { protocol: 'TLSv1.3' },
  });
  const metrics = await relay.metricsText();
  t.match(metrics, /starttls_relay_outbound_starttls_total\{result="not_offered"\} 1/);
  t.match(
    metrics,
    /starttls_relay_hop_tls_messages_total\{hop="outbound",tls_version="none",verified="false"\} 1/,
  );
});
