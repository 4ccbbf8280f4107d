// The PROXY protocol from a trusted load balancer: the original client address reaches relay authorization, the Received header and the log; anyone else's header is refused.
import t, { type Test } from 'tap';
import { startRawHop } from '../support/raw-hop.js';
import { startTestRelay } from '../support/relay.js';
import { settle } from '../support/scenario.js';
import { SmtpDialogue } from '../support/smtp-client.js';

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const v2Tcp4 = (src: number[], port: number): Buffer => {
  const block = Buffer.from([...src, 192, 0, 2, 1, 0, 0, 0, 25]);
  block.writeUInt16BE(port, 8);
  return Buffer.concat([SIG, Buffer.from([0x21, 0x11, 0, 12]), block]);
};

async function proxiedRelay(t: Test, proxyFrom: string[]) {
  const hop = await startRawHop();
  t.teardown(() => hop.close());
  const relay = await startTestRelay({
    listeners: [{ name: 'mta', host: '127.0.0.1', port: 0, proxyProtocol: true, proxyFrom }],
    // Only the address inside the header may relay: the balancer's own (127.0.0.1) may not.
    relay: { allowedNetworks: ['203.0.113.0/24'], acceptDomains: [] },
    routes: [{ domains: ['*'], nextHop: `127.0.0.1:${hop.port}` }],
  });
  t.teardown(() => relay.close());
  return { hop, relay };
}

void t.test(
  'a PROXY v2 header: the original address decides relaying and is stamped and logged',
  async (t) => {
    const { hop, relay } = await proxiedRelay(t, ['127.0.0.1/32']);
    const c = await SmtpDialogue.connect(relay.port);
    t.teardown(() => c.close());
    c.write(v2Tcp4([203, 0, 113, 9], 40000));
    t.equal(await c.line(), '220 relay.test ESMTP starttls-relay');
    await c.startTls();
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(
      await c.send('RCPT TO:<b@anywhere.test>'),
      '250 Accepted',
      'relaying allowed for 203.0.113.9',
    );
    t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    t.equal(await c.send('Subject: p\r\n\r\nbody\r\n.'), '250 2.0.0 Ok: queued');
    t.match(hop.bodies[0]?.toString() ?? '', /^Received: from client\.test \(\[203\.0\.113\.9\]\)/);
    await settle();
    t.match(relay.transactions()[0], { client: { address: '203.0.113.9', port: 40000 } });
  },
);

void t.test('a PROXY v1 header works the same', async (t) => {
  const { relay } = await proxiedRelay(t, ['127.0.0.0/8']);
  const c = await SmtpDialogue.connect(relay.port);
  t.teardown(() => c.close());
  c.write('PROXY TCP4 203.0.113.10 192.0.2.1 40001 25\r\n');
  t.equal(await c.line(), '220 relay.test ESMTP starttls-relay');
  await c.startTls();
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<b@anywhere.test>'), '250 Accepted');
});

void t.test('without a header from the balancer, its own address does not relay', async (t) => {
  const { relay } = await proxiedRelay(t, ['127.0.0.1/32']);
  const c = await SmtpDialogue.connect(relay.port);
  t.teardown(() => c.close());
  c.write('PROXY UNKNOWN\r\n');
  t.equal(await c.line(), '220 relay.test ESMTP starttls-relay');
  await c.startTls();
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<b@anywhere.test>'), '554 5.7.1 Relay access denied');
});

void t.test('a header from a peer that is not a configured balancer is refused', async (t) => {
  const { relay } = await proxiedRelay(t, ['10.0.0.0/8']);
  const c = await SmtpDialogue.connect(relay.port);
  t.teardown(() => c.close());
  c.write('PROXY TCP4 203.0.113.9 192.0.2.1 40000 25\r\n');
  t.equal(await c.line(), '421 relay.test You talk too soon');
  await c.waitClosed();
  t.ok(c.closed);
});

void t.test(
  'a garbled header from the balancer closes the connection without a session',
  async (t) => {
    const { relay } = await proxiedRelay(t, ['127.0.0.1/32']);
    const c = await SmtpDialogue.connect(relay.port);
    t.teardown(() => c.close());
    c.write('EHLO not-a-proxy-header\r\n');
    await c.waitClosed();
    t.ok(c.closed);
    await t.rejects(c.reply(), /connection closed/, 'no greeting was sent');
  },
);
