// What the next hop sees on the wire: A-label domains, only the parameters it advertised, RSET after an abandoned transaction, session reuse.
import t from 'tap';
import { throughRawHop } from '../support/scenario.js';

void t.test('IDN domains go out as A-labels with the parameters the hop supports', async (t) => {
  const { hop, c } = await throughRawHop(
    t,
    (port) => ({
      routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
    }),
    { ehlo: ['raw.test', '8BITMIME', 'SIZE 10000000'] },
  );
  t.equal(await c.send('MAIL FROM:<a@bücher.test> SIZE=123 BODY=8BITMIME'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<ok@xn--mnchen-3ya.test>'), '250 Accepted');
  t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
  t.equal(await c.send('Subject: x\r\n\r\n.leading dot\r\n.'), '250 2.0.0 Ok: queued');
  const cmds = hop.commands[0] ?? [];
  t.ok(
    cmds.includes('MAIL FROM:<a@xn--bcher-kva.test> SIZE=123 BODY=8BITMIME'),
    'MAIL with A-label and forwarded parameters',
  );
  t.ok(cmds.includes('RCPT TO:<ok@xn--mnchen-3ya.test>'));
  t.match(
    hop.bodies[0]?.toString() ?? '',
    /\r\n\.\.leading dot\r\n$/,
    'leading dot stuffed on the wire',
  );
});

void t.test('a UTF-8 local part needs SMTPUTF8 at the hop: 553 5.6.7 otherwise', async (t) => {
  const { hop, c } = await throughRawHop(
    t,
    (port) => ({
      routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
    }),
    { ehlo: ['raw.test', '8BITMIME'] },
  );
  t.equal(await c.send('MAIL FROM:<a@origin.test> SMTPUTF8'), '250 Accepted');
  t.equal(
    await c.send('RCPT TO:<jörg@dest.test>'),
    '553 5.6.7 Next hop does not support SMTPUTF8 for this address',
  );
  t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
  t.ok(
    (hop.commands[0] ?? []).includes('MAIL FROM:<a@origin.test>'),
    'SMTPUTF8 not sent to a hop that lacks it',
  );
});

void t.test(
  'an abandoned transaction is reset before the next one on the same hop session',
  async (t) => {
    const { hop, c } = await throughRawHop(t, (port) => ({
      routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
    }));
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
    t.equal(await c.send('RSET'), '250 Flushed');
    t.equal(await c.send('MAIL FROM:<c@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<d@dest.test>'), '250 Accepted');
    t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    t.equal(await c.send('Subject: x\r\n\r\nbody\r\n.'), '250 2.0.0 Ok: queued');
    t.equal(await c.send('MAIL FROM:<e@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<f@dest.test>'), '250 Accepted');
    t.equal(hop.commands.length, 1, 'one hop session for all three transactions');
    t.same(
      (hop.commands[0] ?? []).filter((l) => !l.startsWith('EHLO')),
      [
        'MAIL FROM:<a@origin.test>',
        'RCPT TO:<b@dest.test>',
        'RSET',
        'MAIL FROM:<c@origin.test>',
        'RCPT TO:<d@dest.test>',
        'DATA',
        'MAIL FROM:<e@origin.test>',
        'RCPT TO:<f@dest.test>',
      ],
      'RSET only where a transaction was left open',
    );
  },
);

void t.test(
  'the hop refusing MAIL is the RCPT reply, and a 421 ends the client session too',
  async (t) => {
    const { c } = await throughRawHop(
      t,
      (port) => ({
        routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
      }),
      {
        replies: {
          'MAIL FROM:<blocked@': '550 5.7.1 Sender blocked',
          'RCPT TO:<bye@': '421 4.3.2 Hop shutting down',
        },
      },
    );
    t.equal(await c.send('MAIL FROM:<blocked@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '550 5.7.1 Sender blocked');
    t.equal(await c.send('RSET'), '250 Flushed');
    t.equal(await c.send('MAIL FROM:<ok@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<bye@dest.test>'), '421 4.3.2 Hop shutting down');
    await c.waitClosed();
    t.ok(c.closed, 'client connection closed after the mirrored 421');
  },
);

for (const pipelining of [true, false]) {
  void t.test(
    pipelining
      ? 'a hop offering PIPELINING gets MAIL and the first RCPT in one write (RFC 2920 §3.1)'
      : 'a hop without PIPELINING gets RCPT only after it answered MAIL',
    async (t) => {
      const ehlo = ['raw.test', '8BITMIME', ...(pipelining ? ['PIPELINING'] : [])];
      const { hop, c } = await throughRawHop(
        t,
        (port) => ({ routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }] }),
        { ehlo, holdMailMs: 200 },
      );
      t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
      t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
      t.equal(await c.send('RCPT TO:<c@dest.test>'), '250 Accepted');
      t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
      t.equal(await c.send('Subject: x\r\n\r\nbody\r\n.'), '250 2.0.0 Ok: queued');
      t.same(hop.behindMail, [pipelining ? 'RCPT TO:<b@dest.test>\r\n' : ''], 'behind MAIL');
      t.same((hop.commands[0] ?? []).slice(1), [
        'MAIL FROM:<a@origin.test>',
        'RCPT TO:<b@dest.test>',
        'RCPT TO:<c@dest.test>',
        'DATA',
      ]);
    },
  );
}
