// Catalogue rows RL-06 (XCLIENT/XFORWARD), LM-01 (command line length), LM-04 (SIZE), LM-06 (parameters), LM-09 (address syntax), RL-01..RL-05 (the nmap open-relay forms), ST-01..ST-03 (STARTTLS injection, state reset, syntax), SM-07 (segmented commands) and DS-05 (no reverse DNS): exact bytes, exact replies, connection state.
import t from 'tap';
import { catalogueRelay, client, sample } from './catalogue-support.js';

void t.test(
  'LM-01: 600 octets pass, over limits.maxCommandLength is 500 5.5.2, session open',
  async (t) => {
    const relay = await catalogueRelay(t);
    const c = await client(t, relay.port);
    t.equal(await c.send(`NOOP ${'a'.repeat(600)}`), '250 OK', 'over 512 is accepted');
    t.equal(await c.send(`NOOP ${'a'.repeat(2043)}`), '250 OK', 'exactly 2048 octets');
    t.equal(await c.send(`NOOP ${'a'.repeat(2044)}`), '500 5.5.2 Error: command too long');
    t.equal(await c.send(`NOOP ${'a'.repeat(17_000)}`), '500 5.5.2 Error: command too long');
    t.equal(
      await c.send(`MAIL FROM:<a@a.test> ${'X'.repeat(3000)}\r`),
      '500 5.5.2 Error: command too long',
      'a CR at the cut does not shorten the line',
    );
    t.equal(await c.send('MAIL FROM:<a@a.test>'), '250 Accepted', 'no truncated command ran');
    t.notOk(c.closed);
    t.equal(
      await sample(
        relay,
        'starttls_relay_inbound_protocol_violations_total{listener="mta",kind="command_too_long"}',
      ),
      3,
    );
  },
);

void t.test(
  'LM-01: 1 MiB without a line end is dropped as it arrives, then 500 5.5.2',
  async (t) => {
    const relay = await catalogueRelay(t, { limits: { maxCommandLength: 1000 } });
    const c = await client(t, relay.port);
    for (let i = 0; i < 16; i++) c.write('A'.repeat(65_536));
    t.equal(await c.send(''), '500 5.5.2 Error: command too long');
    t.equal(await c.send('NOOP'), '250 OK');
  },
);

void t.test(
  'LM-04: SIZE over the limit is 552, SIZE=abc is 501 (smtp-server, regression)',
  async (t) => {
    const relay = await catalogueRelay(t);
    const c = await client(t, relay.port);
    t.equal(
      await c.send('MAIL FROM:<a@a.test> SIZE=999999999'),
      '552 Error: message exceeds fixed maximum message size 52428800',
    );
    t.match(await c.send('MAIL FROM:<a@a.test> SIZE=abc'), /^501 /);
    t.notOk(c.closed);
  },
);

void t.test(
  'LM-09: NUL, a 300-octet local part, a bad literal and <> are 501 (smtp-server, regression)',
  async (t) => {
    const relay = await catalogueRelay(t);
    const c = await client(t, relay.port);
    t.equal(await c.send('MAIL FROM:<a\u0000b@a.test>'), '501 Error: Bad sender address syntax');
    t.equal(
      await c.send(`MAIL FROM:<${'l'.repeat(300)}@a.test>`),
      '501 Error: Bad sender address syntax',
    );
    t.equal(await c.send('MAIL FROM:<a@a.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<user@[300.1.1.1]>'), '501 Error: Bad recipient address syntax');
    t.equal(await c.send('RCPT TO:<>'), '501 Error: Bad recipient address syntax');
    t.notOk(c.closed);
  },
);

void t.test(
  'ST-01: STARTTLS with commands behind it in one write: none runs (regression)',
  async (t) => {
    const relay = await catalogueRelay(t);
    const c = await client(t, relay.port);
    c.write('STARTTLS\r\nRSET\r\nMAIL FROM:<x@a.test>\r\n');
    t.equal(await c.line(), '220 Ready to start TLS');
    await c.upgradeRaw();
    t.equal(
      await c.send('MAIL FROM:<y@a.test>'),
      '503 Error: send HELO/EHLO first',
      'ST-02: state reset',
    );
    const ehlo = await c.send('EHLO client.test');
    t.equal(ehlo, '250 SIZE 52428800');
    t.equal(await c.send('STARTTLS'), '503 Error: TLS already active', 'ST-03 second half');
  },
);

void t.test('ST-03: STARTTLS with a parameter is 501', async (t) => {
  const relay = await catalogueRelay(t);
  const c = await client(t, relay.port);
  t.equal(await c.send('STARTTLS foo'), '501 Error: syntax: STARTTLS');
  t.notOk(c.closed);
});

void t.test('SM-07: a session written one byte at a time is answered the same', async (t) => {
  const relay = await catalogueRelay(t);
  const c = await client(t, relay.port);
  const bytes = 'MAIL FROM:<a@a.test>\r\nRCPT TO:<b@elsewhere.test>\r\nNOOP\r\n';
  for (const ch of bytes) c.write(ch);
  t.equal(await c.line(), '250 Accepted');
  t.equal(await c.line(), '554 5.7.1 Relay access denied');
  t.equal(await c.line(), '250 OK');
});

void t.test('DS-05: no reverse lookup: the client is named by its address literal', async (t) => {
  const relay = await catalogueRelay(t);
  const c = await client(t, relay.port, { ehlo: false });
  const ehlo = await c.send('HELO client.test');
  t.equal(ehlo, '250 relay.test Nice to meet you, [127.0.0.1]');
});

void t.test(
  'RL-06: XCLIENT and XFORWARD from an untrusted peer are refused, session open',
  async (t) => {
    const relay = await catalogueRelay(t);
    const c = await client(t, relay.port);
    t.equal(await c.send('XCLIENT ADDR=1.2.3.4 LOGIN=admin'), '550 Error: Not allowed');
    t.equal(await c.send('XFORWARD ADDR=1.2.3.4'), '550 Error: Not allowed');
    t.equal(await c.send('NOOP'), '250 OK');
  },
);

void t.test(
  'RL-01..RL-05: every nmap smtp-open-relay form from an untrusted client is refused',
  async (t) => {
    const relay = await catalogueRelay(t);
    const c = await client(t, relay.port);
    const cases: ReadonlyArray<readonly [string, string]> = [
      ['<relaytest@example.net>', '554 5.7.1 Relay access denied'],
      ['<relaytest%example.net@[127.0.0.1]>', '554 5.7.1 Relay access denied'],
      ['<relaytest%example.net@relay.test>', '554 5.7.1 Relay access denied'],
      ['<example.net!relaytest@[127.0.0.1]>', '554 5.7.1 Relay access denied'],
      ['<example.net!relaytest@relay.test>', '554 5.7.1 Relay access denied'],
      ['<example.net!relaytest>', '501 Error: Bad recipient address syntax'],
      ['<"relaytest@example.net">', '501 Error: Bad recipient address syntax'],
      ['<"relaytest%example.net">', '501 Error: Bad recipient address syntax'],
      ['<relaytest@example.net@[127.0.0.1]>', '501 Error: Bad recipient address syntax'],
      ['<"relaytest@example.net"@[127.0.0.1]>', '501 Error: Bad recipient address syntax'],
      ['<relaytest@example.net@relay.test>', '501 Error: Bad recipient address syntax'],
      ['<@[127.0.0.1]:relaytest@example.net>', '554 5.7.1 Relay access denied'],
      ['<@relay.test:relaytest@example.net>', '554 5.7.1 Relay access denied'],
    ];
    for (const sender of ['<>', '<antispam@example.net>', '<antispam@[127.0.0.1]>']) {
      t.equal(await c.send(`MAIL FROM:${sender}`), '250 Accepted', `MAIL FROM:${sender}`);
      for (const [rcpt, reply] of cases) t.equal(await c.send(`RCPT TO:${rcpt}`), reply, rcpt);
      t.equal(await c.send('RSET'), '250 Flushed');
    }
    t.notOk(c.closed, 'the connection stays open');
  },
);

void t.test(
  'LM-06: unknown and unadvertised parameters 555 5.5.4, BINARYMIME and BDAT refused',
  async (t) => {
    const relay = await catalogueRelay(t);
    const c = await client(t, relay.port);
    t.equal(
      await c.send('MAIL FROM:<a@a.test> FOO=bar X-EVIL'),
      '555 5.5.4 Unsupported MAIL parameter FOO',
    );
    t.equal(
      await c.send('MAIL FROM:<a@a.test> REQUIRETLS'),
      '530 REQUIRETLS not permitted on non-TLS connections',
      'REQUIRETLS is not advertised in clear (smtp-server refuses it)',
    );
    t.equal(
      await c.send('MAIL FROM:<a@a.test> BODY=BINARYMIME'),
      '501 Invalid BODY parameter value. Must be 7BIT or 8BITMIME',
    );
    t.equal(await c.send('BDAT 10 LAST'), '500 5.5.2 Error: command not recognized');
    t.notOk(c.closed);
  },
);
