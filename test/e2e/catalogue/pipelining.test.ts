// Catalogue rows SM-04, SM-06 (unauthorised pipelining, CR in a command) and PL-01..PL-04 (sequencing, pipelined groups, hostile openers, junk and floods): exact bytes in, exact replies and connection state out.
import t from 'tap';
import { settle } from '../../support/scenario.js';
import { catalogueRelay, client, sample } from './catalogue-support.js';

const SYNC = '554 5.5.0 Error: SMTP protocol synchronization';

void t.test(
  'SM-06: every RCPT refused, DATA and the body pipelined: 554 5.5.0, closed',
  async (t) => {
    const relay = await catalogueRelay(t);
    const c = await client(t, relay.port);
    c.write(
      'MAIL FROM:<a@a.test>\r\nRCPT TO:<bad@b.test>\r\nDATA\r\nSubject: hi\r\n\r\n' +
        'RSET\r\nMAIL FROM:<ceo@victim.test>\r\nRCPT TO:<good@b.test>\r\nDATA\r\nevil\r\n.\r\n',
    );
    t.equal(await c.line(), '250 Accepted');
    t.equal(await c.line(), '554 5.7.1 Relay access denied');
    t.equal(await c.line(), SYNC, 'input after DATA before its reply');
    await c.waitClosed();
    t.ok(c.closed, 'disconnected: the body never ran as commands');
    t.equal(
      await sample(
        relay,
        'starttls_relay_inbound_protocol_violations_total{listener="mta",kind="unauthorized_pipelining"}',
      ),
      1,
    );
  },
);

void t.test('SM-06: text after a rejected DATA, in a later write: 554 5.5.0, closed', async (t) => {
  const relay = await catalogueRelay(t);
  const c = await client(t, relay.port);
  t.equal(await c.send('MAIL FROM:<a@a.test>'), '250 Accepted');
  t.equal(await c.send('RCPT TO:<bad@b.test>'), '554 5.7.1 Relay access denied');
  t.equal(await c.send('DATA'), '503 Error: need RCPT command');
  t.equal(await c.send('Subject: hi'), SYNC, 'message text where a command belongs');
  await c.waitClosed();
  t.ok(c.closed);
});

void t.test('SM-06: after a rejected DATA a real command still works', async (t) => {
  const relay = await catalogueRelay(t);
  const c = await client(t, relay.port);
  t.equal(await c.send('DATA'), '503 Error: need RCPT command');
  t.equal(await c.send('RSET'), '250 Flushed');
  t.equal(await c.send('NOOP'), '250 OK');
  t.notOk(c.closed);
});

void t.test('SM-06: DATA with the body in the same write: 554 5.5.0 before any 354', async (t) => {
  const relay = await catalogueRelay(t);
  const c = await client(t, relay.port);
  t.equal(await c.send('MAIL FROM:<a@a.test>'), '250 Accepted');
  c.write('DATA\r\nSubject: hi\r\n');
  t.equal(await c.line(), SYNC);
  await c.waitClosed();
  t.ok(c.closed);
});

void t.test(
  'PL-02 (allowed pipelining): MAIL, RCPT, DATA in one write are answered in order',
  async (t) => {
    const relay = await catalogueRelay(t);
    const c = await client(t, relay.port);
    c.write(
      'MAIL FROM:<s@x.test>\r\nRCPT TO:<a@x.test>\r\nRCPT TO:<bad\r\nRCPT TO:<b@x.test>\r\nDATA\r\n',
    );
    t.equal(await c.line(), '250 Accepted');
    t.equal(await c.line(), '554 5.7.1 Relay access denied');
    t.equal(await c.line(), '501 Error: Bad recipient address syntax');
    t.equal(await c.line(), '554 5.7.1 Relay access denied');
    t.equal(await c.line(), '503 Error: need RCPT command', 'DATA last in the group is allowed');
    t.equal(await c.send('QUIT'), '221 Bye');
  },
);

void t.test('SM-04: a CR inside a command is 501 5.5.4, for every command', async (t) => {
  const relay = await catalogueRelay(t);
  const c = await client(t, relay.port);
  t.equal(
    await c.send('MAIL FROM:<a@a.test>\rRCPT TO:<c@d.test>'),
    '501 5.5.4 Error: bare CR inside a command line',
  );
  t.equal(await c.send('MAIL FROM:<a@a.test>'), '250 Accepted', 'no MAIL was stored');
  for (const line of [
    'RCPT TO:<c@dest.test>\rX',
    'NOOP\rRSET',
    'EHLO a\rb',
    'RSET\r\r',
    'QUIT\rX',
  ]) {
    t.equal(
      await c.send(line),
      '501 5.5.4 Error: bare CR inside a command line',
      JSON.stringify(line),
    );
  }
  t.notOk(c.closed, 'the session goes on');
  t.equal(
    await sample(
      relay,
      'starttls_relay_inbound_protocol_violations_total{listener="mta",kind="cr_in_command"}',
    ),
    6,
  );
});

void t.test('PL-01: sequencing errors are 503 (smtp-server, regression)', async (t) => {
  const relay = await catalogueRelay(t);
  const c = await client(t, relay.port, { ehlo: false });
  t.equal(await c.send('MAIL FROM:<a@a.test>'), '503 Error: send HELO/EHLO first');
  t.equal(
    await c.send('EHLO client.test').then(() => c.send('RCPT TO:<b@dest.test>')),
    '503 Error: need MAIL command',
  );
  t.equal(await c.send('DATA'), '503 Error: need RCPT command');
  t.equal(await c.send('MAIL FROM:<a@a.test>'), '250 Accepted');
  t.equal(await c.send('MAIL FROM:<a@a.test>'), '503 Error: nested MAIL command');
  t.notOk(c.closed);
});

void t.test(
  'PL-03: early talker, HTTP request, QUIT then NOOP (smtp-server, regression)',
  async (t) => {
    const relay = await catalogueRelay(t);
    const { SmtpDialogue } = await import('../../support/smtp-client.js');
    const early = await SmtpDialogue.connect(relay.port);
    t.teardown(() => early.close());
    early.write('EHLO early.test\r\n');
    t.equal(await early.line(), '421 relay.test You talk too soon');
    await early.waitClosed();
    const http = await client(t, relay.port, { ehlo: false });
    t.equal(await http.send('GET / HTTP/1.1'), '421 HTTP requests not allowed');
    await http.waitClosed();
    const quit = await client(t, relay.port, { ehlo: false });
    quit.write('QUIT\r\nNOOP\r\n');
    t.equal(await quit.line(), '221 Bye');
    await quit.waitClosed();
    await t.rejects(quit.line(), 'NOOP after QUIT is never answered');
  },
);

void t.test(
  'PL-04: unknown commands are 500 5.5.2, the 20th error closes with 421 4.7.0',
  async (t) => {
    const relay = await catalogueRelay(t);
    const c = await client(t, relay.port);
    for (let i = 1; i < 20; i++) {
      t.equal(await c.send(`XYZZY${i}`), '500 5.5.2 Error: command not recognized');
    }
    c.write('XYZZY20\r\n');
    t.same(await c.reply(), ['500 5.5.2 Error: command not recognized']);
    t.equal(await c.line(), '421 4.7.0 Error: too many errors');
    await c.waitClosed();
    t.ok(c.closed);
    t.equal(
      await sample(
        relay,
        'starttls_relay_inbound_protocol_violations_total{listener="mta",kind="too_many_errors"}',
      ),
      1,
    );
  },
);

void t.test(
  'PL-04: any protocol error counts: syntax errors, then the budget closes',
  async (t) => {
    const relay = await catalogueRelay(t, { limits: { maxErrors: 3 } });
    const c = await client(t, relay.port);
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '503 Error: need MAIL command');
    t.equal(await c.send('MAIL FROM:<bad'), '501 Error: Bad sender address syntax');
    c.write('BOGUS\r\n');
    t.equal(await c.line(), '500 5.5.2 Error: command not recognized');
    t.equal(await c.line(), '421 4.7.0 Error: too many errors');
    await c.waitClosed();
  },
);

void t.test('PL-04: 10 000 NOOP/RSET in one write: 100 answered, then 421 4.7.0', async (t) => {
  const relay = await catalogueRelay(t);
  const c = await client(t, relay.port, { ehlo: false });
  c.write('NOOP\r\nRSET\r\n'.repeat(5000));
  for (let i = 0; i < 50; i++) {
    t.equal(await c.line(), '250 OK');
    t.equal(await c.line(), '250 Flushed');
  }
  t.equal(await c.line(), '421 4.7.0 Error: too many commands without mail');
  await c.waitClosed();
  t.equal(
    await sample(
      relay,
      'starttls_relay_inbound_protocol_violations_total{listener="mta",kind="too_many_junk_commands"}',
    ),
    1,
  );
});

void t.test(
  'PL-04: 100 000 pipelined NOOPs, replies unread: closed after the budget',
  async (t) => {
    const relay = await catalogueRelay(t, { limits: { maxJunkCommands: 100 } });
    const { connect } = await import('node:net');
    const socket = connect({ port: relay.port, host: '127.0.0.1' });
    t.teardown(() => socket.destroy());
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    await settle(300);
    socket.write('NOOP\r\n'.repeat(100_000));
    // Replies are not read until the relay has closed; then they are all there, in order.
    const closed = new Promise<void>((resolve) => socket.once('end', resolve));
    socket.pause();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.resume();
    await closed;
    const lines = Buffer.concat(chunks)
      .toString('latin1')
      .split('\r\n')
      .filter((l) => l !== '');
    t.equal(lines[0], '220 relay.test ESMTP starttls-relay');
    t.equal(lines.filter((l) => l === '250 OK').length, 100, 'exactly the budget answered');
    t.equal(lines[lines.length - 1], '421 4.7.0 Error: too many commands without mail');
    t.equal(lines.length, 102);
  },
);

void t.test('PL-04: EHLO, RSET and NOOP all spend the junk budget', async (t) => {
  const relay = await catalogueRelay(t, { limits: { maxJunkCommands: 3 } });
  const c = await client(t, relay.port, { ehlo: false });
  t.equal(await c.send('EHLO a.test').then(() => c.send('RSET')), '250 Flushed');
  t.equal(await c.send('NOOP'), '250 OK');
  t.equal(await c.send('NOOP'), '421 4.7.0 Error: too many commands without mail');
  await c.waitClosed();
});
