// The smuggling policy: an untrusted client's bare CR, bare LF or NUL gets 550 5.5.2 and nothing is relayed; exempt networks and `normalize` get them turned into CRLF.
import t from 'tap';
import { throughRawHop } from '../support/scenario.js';

const SEQUENCES = [
  '\n.\n',
  '\r.\r',
  '\n.\r\n',
  '\r\n.\n',
  '\r.\n',
  '\n.\r',
  '\r.\r\n',
  '\r\n\x00.\r\n',
];

void t.test(
  'an untrusted client: 550 5.5.2 for each sequence, the next hop gets no message',
  async (t) => {
    const { hop, c } = await throughRawHop(t, (port) => ({
      relay: { allowedNetworks: [], acceptDomains: ['dest.test'] },
      routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
    }));
    for (const seq of SEQUENCES) {
      t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
      t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
      t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
      c.write(
        `Subject: s\r\n\r\nx${seq}MAIL FROM:<smuggled@evil.test>\r\nRCPT TO:<victim@dest.test>\r\nDATA\r\nsmuggled\r\n.\r\n`,
      );
      t.equal(
        await c.line(),
        '550 5.5.2 Message contains a bare CR, a bare LF or a NUL',
        JSON.stringify(seq),
      );
    }
    t.equal(hop.bodies.length, 0, 'no terminating dot ever reached the next hop');
    t.notOk(
      hop.commands.flat().some((l) => l.includes('smuggled')),
      'nor a smuggled command',
    );
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted', 'the session goes on');
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
    t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    t.equal(
      await c.send('Subject: clean\r\n\r\nclean body\r\n.'),
      '250 2.0.0 Ok: queued',
      'clean mail still flows',
    );
  },
);

void t.test('bareNewline: normalize relays the same bodies neutralised', async (t) => {
  const { hop, c } = await throughRawHop(t, (port) => ({
    relay: { allowedNetworks: [], acceptDomains: ['dest.test'], bareNewline: 'normalize' },
    routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
  }));
  t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
  t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
  t.equal(await c.send('Subject: s\r\n\r\nx\n.\nRSET\r\n.'), '250 2.0.0 Ok: queued');
  t.match(hop.bodies[0]?.toString() ?? '', /\r\nx\r\n\.\.\r\nRSET\r\n$/);
});
