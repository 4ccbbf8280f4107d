// The client session's end: next-hop sessions never outlive it, a transaction waiting for its final reply is still recorded, refused recipients are bounded.
import t from 'tap';
import { settle, throughRawHop } from '../support/scenario.js';

async function until(check: () => boolean): Promise<boolean> {
  for (let i = 0; i < 200 && !check(); i++) await settle(20);
  return check();
}

void t.test(
  'a client that leaves while the next hop is still connecting leaves no next-hop session behind',
  async (t) => {
    const { hop, c } = await throughRawHop(
      t,
      (port) => ({
        routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
      }),
      { ehloDelayMs: 300 },
    );
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    c.write('RCPT TO:<b@dest.test>\r\n');
    await settle(100);
    c.close();
    t.ok(
      await until(() => hop.commands.length === 1 && hop.openConnections === 0),
      'the next-hop connection is closed',
    );
    t.same(hop.commands[0], ['EHLO relay.test'], 'no MAIL or RCPT sent for a client that is gone');
  },
);

void t.test(
  'a client that sends its dot and leaves: the hop still answers, the transaction is logged delivered',
  async (t) => {
    const { hop, relay, c } = await throughRawHop(t, (port) => ({
      routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
      // Without the cache of warm sessions, the next-hop session must end with the client's.
      outbound: { connectionCache: { enabled: false } },
    }));
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
    t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    c.write('Subject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n');
    c.close();
    t.ok(await until(() => relay.transactions().length === 1), 'one transaction line');
    t.match(relay.transactions()[0], { outcome: 'delivered', final: '250 2.0.0 Ok: queued' });
    t.ok(await until(() => hop.openConnections === 0), 'then the next-hop session ends');
  },
);

void t.test('refused recipients cannot grow a transaction without bound', async (t) => {
  const { c } = await throughRawHop(t, (port) => ({
    relay: { maxRecipients: 2, allowedNetworks: [], acceptDomains: ['dest.test'] },
    routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
  }));
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  for (let i = 0; i < 4; i++)
    t.equal(await c.send(`RCPT TO:<x${i}@elsewhere.test>`), '554 5.7.1 Relay access denied');
  t.equal(await c.send('RCPT TO:<x@elsewhere.test>'), '452 4.5.3 Too many recipients');
  t.equal(await c.send('RCPT TO:<b@dest.test>'), '452 4.5.3 Too many recipients');
});
