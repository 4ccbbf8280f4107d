// A next hop that answers 220 to STARTTLS and then fails every handshake: retried once in plaintext, recorded as failed_fallback.
import t from 'tap';
import { generateSelfSigned } from '../support/pki.js';
import { relayAndHop, settle, tlsClient, transact } from '../support/scenario.js';

void t.test('falls back to plaintext on a new connection', async (t) => {
  const { hop, relay } = await relayAndHop(t, {
    tls: { kind: 'broken', pair: await generateSelfSigned(['hop.test']) },
  });
  const c = await tlsClient(t, relay.port);
  const r = await transact(c, 'a@origin.test', ['b@dest.test'], 'Subject: x\r\n\r\nbody');
  t.equal(r.final, '250 2.0.0 Ok: queued as Q1');
  t.equal(hop.connections, 2, 'one connection for the failed handshake, one in plaintext');
  t.equal(hop.messages[0]?.tlsProtocol, null);
  await settle();
  const [line] = relay.transactions();
  t.match(line, {
    outboundTls: { starttls: 'failed_fallback', protocol: null },
    outcome: 'delivered',
  });
  t.match(line, { outboundTls: { starttlsError: /ESOCKET/ } });
  t.match(
    await relay.metricsText(),
    /starttls_relay_outbound_starttls_total\{result="failed_fallback"\} 1/,
  );
});
