// A next hop that rejects one of three recipients: the other two are delivered over verified
// TLS, the client hears the hop's own 550 for the third, and logs and metrics show both hops.
import t from 'tap';
import { startNextHop } from '../support/next-hop.js';
import { createTestCa } from '../support/pki.js';
import { startTestRelay } from '../support/relay.js';
import { SmtpDialogue } from '../support/smtp-client.js';

void t.test('mirrors each recipient reply and delivers to the accepted ones', async (t) => {
  const ca = await createTestCa();
  const hop = await startNextHop({
    tls: { kind: 'tls', pair: await ca.issue(['127.0.0.1']) },
    rcptReplies: {
      'nobody@dest.test': {
        code: 550,
        message: '5.1.1 <nobody@dest.test>: Recipient address rejected: User unknown',
      },
    },
  });
  t.teardown(() => hop.close());
  const relay = await startTestRelay(
    { routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}` }] },
    { outboundCa: ca.cert },
  );
  t.teardown(() => relay.close());

  const c = await SmtpDialogue.connect(relay.port);
  t.teardown(() => c.close());
  t.equal(await c.line(), '220 relay.test ESMTP starttls-relay');
  const ehlo = await c.startTls();
  t.notOk(
    ehlo.some((l) => /STARTTLS|AUTH/.test(l)),
    'neither STARTTLS nor AUTH after TLS',
  );
  t.equal(await c.send('MAIL FROM:<sender@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<alice@dest.test>'), '250 Accepted');
  t.equal(
    await c.send('RCPT TO:<nobody@dest.test>'),
    '550 5.1.1 <nobody@dest.test>: Recipient address rejected: User unknown',
  );
  t.equal(await c.send('RCPT TO:<bob@dest.test>'), '250 Accepted');
  t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
  t.equal(await c.send('Subject: hi\r\n\r\nhello\r\n.'), '250 2.0.0 Ok: queued as Q1');
  t.equal(await c.send('QUIT'), '221 Bye');

  t.equal(hop.messages.length, 1);
  const m = hop.messages[0]!;
  t.same(m.rcptTo, ['alice@dest.test', 'bob@dest.test']);
  t.equal(m.mailFrom, 'sender@origin.test');
  t.equal(m.tlsProtocol, 'TLSv1.3');
  const body = m.body.toString();
  t.match(
    body,
    /^Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby relay\.test \(starttls-relay\) with ESMTPS id [0-9a-v]+\.1\r\n\t\(version=TLSv1\.3, cipher=TLS_AES_\d+_GCM_SHA\d+\);\r\n\t\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\n/,
  );
  t.match(body, /\r\nSubject: hi\r\n\r\nhello\r\n$/);

  await new Promise((r) => setTimeout(r, 50));
  const [line] = relay.transactions();
  t.ok(line, 'one transaction line');
  t.match(line, {
    outcome: 'delivered',
    final: '250 2.0.0 Ok: queued as Q1',
    inboundTls: { protocol: 'TLSv1.3' },
    nextHop: { domain: 'dest.test', source: 'route', address: '127.0.0.1', port: hop.port },
    outboundTls: {
      starttls: 'encrypted',
      protocol: 'TLSv1.3',
      verified: true,
      peerSubject: 'CN=127.0.0.1',
    },
    recipients: [
      { to: 'alice@dest.test', reply: '250 Accepted', source: 'next_hop' },
      {
        to: 'nobody@dest.test',
        reply: '550 5.1.1 <nobody@dest.test>: Recipient address rejected: User unknown',
        source: 'next_hop',
      },
      { to: 'bob@dest.test', reply: '250 Accepted', source: 'next_hop' },
    ],
  });
  const metrics = await relay.metricsText();
  t.match(
    metrics,
    /starttls_relay_hop_tls_messages_total\{hop="inbound",tls_version="TLSv1.3",verified="false"\} 1/,
  );
  t.match(
    metrics,
    /starttls_relay_hop_tls_messages_total\{hop="outbound",tls_version="TLSv1.3",verified="true"\} 1/,
  );
  t.match(metrics, /starttls_relay_outbound_starttls_total\{result="encrypted"\} 1/);
  t.match(metrics, /starttls_relay_messages_total\{outcome="delivered"\} 1/);
  t.match(metrics, /starttls_relay_recipients_total\{outcome="rejected",source="next_hop"\} 1/);
});
