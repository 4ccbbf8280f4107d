// Relay authorization at RCPT: a client outside allowedNetworks may only send to accepted domains, and address tricks never open relaying.
import t from 'tap';
import { throughRawHop } from '../support/scenario.js';

void t.test('an untrusted client reaches accepted domains only', async (t) => {
  const { hop, relay, c } = await throughRawHop(t, (port) => ({
    relay: { acceptDomains: ['dest.test'], allowedNetworks: ['10.0.0.0/8', 'fd00::/8'] },
    routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
  }));
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<b@elsewhere.test>'), '554 5.7.1 Relay access denied');
  t.equal(
    await c.send('RCPT TO:<b%elsewhere.test@dest.test>'),
    '554 5.7.1 Relay access denied',
    'percent hack',
  );
  t.equal(
    await c.send('RCPT TO:<elsewhere.test!b@dest.test>'),
    '554 5.7.1 Relay access denied',
    'bang path',
  );
  t.equal(
    await c.send('RCPT TO:<"b@elsewhere.test"@dest.test>'),
    '501 Error: Bad recipient address syntax',
    'quoted @: refused by the address parser',
  );
  t.equal(
    await c.send('RCPT TO:<b@sub.dest.test>'),
    '554 5.7.1 Relay access denied',
    'a subdomain is not the domain',
  );
  t.equal(
    await c.send('RCPT TO:<b@DEST.test>'),
    '250 Accepted',
    'domains compare case-insensitively',
  );
  const sent = (hop.commands[0] ?? []).filter((l) => l.startsWith('RCPT'));
  t.same(sent, ['RCPT TO:<b@dest.test>'], 'only the authorized recipient reached the hop');
  const metrics = await relay.metricsText();
  t.match(metrics, /starttls_relay_recipients_total\{outcome="rejected",source="relay"\} 4/);
});

void t.test('a client inside allowedNetworks may relay anywhere', async (t) => {
  const { c } = await throughRawHop(t, (port) => ({
    relay: { acceptDomains: [], allowedNetworks: ['127.0.0.0/8'] },
    routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
  }));
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<b@anywhere.test>'), '250 Accepted');
});

void t.test('a domain with no route is refused, not relayed', async (t) => {
  const { c } = await throughRawHop(t, (port) => ({
    routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${port}` }],
  }));
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<b@unrouted.test>'), '554 5.7.1 Relay access denied');
});
