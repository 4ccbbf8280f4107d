// Shows MX delivery end to end against a real dnsmasq: MX fallback, null MX, implicit MX, NXDOMAIN.
import t, { type Test } from 'tap';
import { hasDnsmasq, startDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { startNextHop, type TestNextHop } from '../support/next-hop.js';
import { createTestCa, type TestCa } from '../support/pki.js';
import { startTestRelay, type TestRelay } from '../support/relay.js';
import { SmtpDialogue } from '../support/smtp-client.js';

if (!hasDnsmasq()) {
  t.plan(0, 'needs Debian package dnsmasq-base');
} else {
  // All hosts share loopback and one mxPort: the preferred MX of two-mx.test is 127.0.0.2,
  // where nothing listens (the next hop binds 127.0.0.1 only), so connecting there is refused.
  let dns: TestDnsServer | undefined;
  let ca: TestCa | undefined;
  t.before(async () => {
    dns = await startDnsServer({
      mx: [
        { domain: 'two-mx.test', host: 'mx1.two-mx.test', preference: 10 },
        { domain: 'two-mx.test', host: 'mx2.two-mx.test', preference: 20 },
        { domain: 'nullmx.test', host: '.', preference: 0 },
      ],
      hosts: [
        { name: 'mx1.two-mx.test', addresses: ['127.0.0.2'] },
        { name: 'mx2.two-mx.test', addresses: ['127.0.0.1'] },
        // Has an address too: a null MX must win over the implicit MX.
        { name: 'nullmx.test', addresses: ['127.0.0.1'] },
        { name: 'implicit.test', addresses: ['127.0.0.1'] },
      ],
      localDomains: ['test'],
    });
    ca = await createTestCa();
  });
  t.teardown(() => dns?.close());

  /** A next hop with a certificate for `names`, and a relay delivering by MX to its port. */
  async function setUp(
    t: Test,
    names: string[],
  ): Promise<{ hop: TestNextHop; relay: TestRelay; client: SmtpDialogue }> {
    if (!dns || !ca) throw new Error('before() did not run');
    const hop = await startNextHop({ tls: { kind: 'tls', pair: await ca.issue(names) } });
    t.teardown(() => hop.close());
    const relay = await startTestRelay(
      { routes: [{ domains: ['*'], nextHop: 'mx' }] },
      { resolver: dns.resolver, mxPort: hop.port, outboundCa: ca.cert },
    );
    t.teardown(() => relay.close());
    const client = await SmtpDialogue.connect(relay.port);
    t.teardown(() => client.close());
    t.equal(await client.line(), '220 relay.test ESMTP starttls-relay');
    await client.startTls();
    t.equal(await client.send('MAIL FROM:<sender@origin.test>'), '250 Accepted');
    return { hop, relay, client };
  }

  /** The transaction line, once the relay has logged it (bounded wait). */
  async function transaction(relay: TestRelay): Promise<Record<string, unknown> | undefined> {
    for (let i = 0; i < 100 && relay.transactions().length === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return relay.transactions()[0];
  }

  void t.test('preferred MX unreachable: delivered to the second MX, attempt logged', async (t) => {
    const { hop, relay, client } = await setUp(t, ['mx2.two-mx.test']);
    t.equal(await client.send('RCPT TO:<alice@two-mx.test>'), '250 Accepted');
    t.equal(await client.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    t.equal(
      await client.send('Subject: mx\r\n\r\nvia the second MX\r\n.'),
      '250 2.0.0 Ok: queued as Q1',
    );
    t.equal(await client.send('QUIT'), '221 Bye');

    t.equal(hop.messages.length, 1);
    t.same(hop.messages[0]?.rcptTo, ['alice@two-mx.test']);
    t.equal(hop.messages[0]?.tlsProtocol, 'TLSv1.3');

    const line = await transaction(relay);
    t.ok(line, 'one transaction line');
    t.match(line, {
      outcome: 'delivered',
      final: '250 2.0.0 Ok: queued as Q1',
      nextHop: {
        domain: 'two-mx.test',
        source: 'mx',
        host: 'mx2.two-mx.test',
        address: '127.0.0.1',
        port: hop.port,
        mxPreference: 20,
      },
      // The certificate names the MX host: SNI and name verification use the MX name.
      outboundTls: { starttls: 'encrypted', verified: true, peerSubject: 'CN=mx2.two-mx.test' },
    });
    t.match(line?.failedAttempts, [
      { host: 'mx1.two-mx.test', address: '127.0.0.2', port: hop.port, error: /ECONNREFUSED/ },
    ]);
    t.equal((line?.failedAttempts as unknown[] | undefined)?.length, 1, 'only the first MX failed');
  });

  void t.test('null MX: RCPT refused with 556 5.1.10, nothing sent on', async (t) => {
    const { hop, client } = await setUp(t, ['nullmx.test']);
    t.equal(
      await client.send('RCPT TO:<bob@nullmx.test>'),
      '556 5.1.10 Recipient domain does not accept mail (null MX)',
    );
    t.equal(await client.send('QUIT'), '221 Bye');
    t.equal(hop.connections, 0, 'the relay never connected to the address of the domain');
  });

  void t.test('no MX but an A record: the domain itself is the implicit MX', async (t) => {
    const { hop, relay, client } = await setUp(t, ['implicit.test']);
    t.equal(await client.send('RCPT TO:<carol@implicit.test>'), '250 Accepted');
    t.equal(await client.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    t.equal(await client.send('Subject: implicit\r\n\r\nhello\r\n.'), '250 2.0.0 Ok: queued as Q1');
    t.equal(await client.send('QUIT'), '221 Bye');

    t.same(hop.messages[0]?.rcptTo, ['carol@implicit.test']);
    const line = await transaction(relay);
    t.match(line, {
      outcome: 'delivered',
      nextHop: {
        domain: 'implicit.test',
        source: 'mx',
        host: 'implicit.test',
        address: '127.0.0.1',
        port: hop.port,
        mxPreference: null,
      },
    });
    t.equal(line?.failedAttempts, undefined, 'no failed attempts');
  });

  void t.test('NXDOMAIN: RCPT refused with 550 5.1.2', async (t) => {
    const { hop, client } = await setUp(t, ['nowhere.test']);
    t.equal(
      await client.send('RCPT TO:<dave@nowhere.test>'),
      '550 5.1.2 Recipient domain not found',
    );
    t.equal(await client.send('QUIT'), '221 Bye');
    t.equal(hop.connections, 0);
  });

  void t.test('DNS refuses to answer: RCPT deferred with 451 4.4.3', async (t) => {
    // Outside the local domains dnsmasq has no upstream and answers REFUSED.
    const { hop, client } = await setUp(t, ['elsewhere.example']);
    t.equal(
      await client.send('RCPT TO:<erin@elsewhere.example>'),
      '451 4.4.3 Temporary DNS failure resolving the next hop, try again later',
    );
    t.equal(await client.send('QUIT'), '221 Bye');
    t.equal(hop.connections, 0);
  });
}
