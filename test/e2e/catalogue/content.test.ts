// Catalogue rows LM-02 (text line length), SM-01/SM-02 (every smuggling sequence, under both policies), SM-03 (NUL, never relayed, also under normalize, in 1-, 3- and 17-byte writes) and SM-05 (bare-newline policy per client): exact bytes in DATA, exact final replies, what the next hop got.
import t from 'tap';
import type { RawHopOptions } from '../../support/raw-hop.js';
import { settle, throughRawHop } from '../../support/scenario.js';
import type { SmtpDialogue } from '../../support/smtp-client.js';
import { writeChunked } from '../../support/chunked-write.js';

const GO_AHEAD = '354 End data with <CR><LF>.<CR><LF>';
const QUEUED = '250 2.0.0 Ok: queued';
const LINE_TOO_LONG = '554 5.6.0 Message contains a line longer than 65536 octets';
const NUL_REFUSED = '554 5.6.0 Message contains a NUL character';
const BARE_REFUSED = '550 5.5.2 Message contains a bare CR, a bare LF or a NUL';

/** A relay (clients on loopback untrusted unless `relay` says otherwise) routed to a raw hop. */
function setup(
  t: Parameters<typeof throughRawHop>[0],
  relay: Record<string, unknown> = {},
  hop: RawHopOptions = {},
) {
  return throughRawHop(
    t,
    (port) => ({
      relay: { allowedNetworks: [], acceptDomains: ['dest.test'], ...relay },
      routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${port}` }],
    }),
    hop,
  );
}

/** MAIL, RCPT and DATA accepted; `data` (everything after the 354) written in `size`-byte pieces. */
async function message(c: SmtpDialogue, data: string | Buffer, size = 0): Promise<string> {
  for (const [command, reply] of [
    ['MAIL FROM:<a@origin.test>', '250 Accepted'],
    ['RCPT TO:<b@dest.test>', '250 Accepted'],
    ['DATA', GO_AHEAD],
  ] as const) {
    const got = await c.send(command);
    if (got !== reply) return `${command}: ${got}`;
  }
  await writeChunked(c, Buffer.isBuffer(data) ? data : Buffer.from(data, 'latin1'), size);
  return c.line();
}

void t.test(
  'LM-02: a 2 000-octet line passes verbatim, and the next hop verdict on it is mirrored',
  async (t) => {
    const long = 'x'.repeat(1998);
    const lenient = await setup(t);
    t.equal(await message(lenient.c, `Subject: s\r\n\r\n${long}\r\n.\r\n`), QUEUED);
    t.ok(
      lenient.hop.bodies[0]?.toString('latin1').endsWith(`\r\n\r\n${long}\r\n`),
      'the line arrives unfolded',
    );
    const strict = await setup(
      t,
      {},
      { lineLimit: { octets: 1000, reply: '500 5.5.0 Line too long (RFC 5321 4.5.3.1.6)' } },
    );
    t.equal(
      await message(strict.c, `Subject: s\r\n\r\n${long}\r\n.\r\n`),
      '500 5.5.0 Line too long (RFC 5321 4.5.3.1.6)',
      "the hop's own refusal, verbatim",
    );
    t.equal(await message(strict.c, `Subject: s\r\n\r\n${'y'.repeat(998)}\r\n.\r\n`), QUEUED);
  },
);

void t.test(
  'LM-02: 65 536 octets on one line pass; one more is 554 5.6.0 after end of data',
  async (t) => {
    const { hop, c } = await setup(t);
    const at = 'a'.repeat(65_536);
    t.equal(await message(c, `Subject: s\r\n\r\n${at}\r\n.\r\n`), QUEUED);
    t.equal(await message(c, `Subject: s\r\n\r\n${at}b\r\n.\r\n`), LINE_TOO_LONG);
    t.equal(hop.bodies.length, 1, 'only the first message reached the hop');
    t.equal(await c.send('NOOP'), '250 OK', 'the session goes on');
  },
);

void t.test(
  'LM-02: 1 MiB without a line end is refused, the hop never gets the final dot',
  async (t) => {
    const { hop, relay, c } = await setup(t, { bareNewline: 'normalize' });
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
    t.equal(await c.send('DATA'), GO_AHEAD);
    c.write('Subject: huge line\r\n\r\n');
    for (let i = 0; i < 16; i++) c.write('z'.repeat(65_536));
    c.write('\r\n.\r\n');
    t.equal(await c.line(), LINE_TOO_LONG);
    t.equal(hop.bodies.length, 0, 'no terminating dot reached the hop');
    t.equal(await message(c, 'Subject: next\r\n\r\nshort\r\n.\r\n'), QUEUED, 'mail still flows');
    t.equal(hop.commands.length, 2, 'on a new hop connection: the first was dropped mid-message');
    await settle();
    t.match(relay.transactions()[0], { outcome: 'rejected', final: LINE_TOO_LONG });
  },
);

// SM-01 and SM-02: every sequence of the catalogue, each followed by a smuggled transaction.
const SEQUENCES = [
  '\n.\n',
  '\n.\r\n',
  '\r\n.\n',
  '\r.\r',
  '\n.\r',
  '\r.\n',
  '\r.\r\n',
  '\r\n.\r\r\n',
  '\r\r\n.\r\r\n',
];
const smuggled = (seq: string): string =>
  `Subject: s\r\n\r\nbody${seq}MAIL FROM:<admin@victim.test>\r\nRCPT TO:<b@dest.test>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n`;

void t.test(
  'SM-01, SM-02, SM-05(a): an untrusted client gets 550 5.5.2 for each sequence, nothing relayed',
  async (t) => {
    const { hop, c } = await setup(t);
    for (const seq of SEQUENCES)
      t.equal(await message(c, smuggled(seq)), BARE_REFUSED, JSON.stringify(seq));
    t.equal(hop.bodies.length, 0, 'no message reached the hop');
    t.notOk(hop.commands.flat().some((l) => l.includes('admin@victim.test')));
  },
);

void t.test(
  'SM-01, SM-02, SM-05(b): an exempt client is normalised: one message each, no bare CR or LF',
  async (t) => {
    // 127.0.0.1 is in bareNewlineExempt: a legacy internal sender.
    const { hop, c } = await setup(t, { bareNewlineExempt: ['127.0.0.0/8'] });
    for (const seq of SEQUENCES)
      t.equal(await message(c, smuggled(seq)), QUEUED, JSON.stringify(seq));
    t.equal(hop.bodies.length, SEQUENCES.length, 'exactly one message per transaction');
    t.notOk(hop.commands.flat().some((l) => l.includes('admin@victim.test')));
    for (const body of hop.bodies) {
      const text = body.toString('latin1');
      t.notMatch(text, /(?<!\r)\n|\r(?!\n)/, 'only CRLF on the wire');
      t.notMatch(text, /\r\n\.\r\n/, 'no end of data inside the message');
    }
  },
);

for (const size of [0, 1, 3, 17]) {
  void t.test(
    `SM-03: NUL under normalize is 554 5.6.0 and never relayed (${size === 0 ? 'one write' : `${size}-byte writes`})`,
    async (t) => {
      const { hop, relay, c } = await setup(t, { bareNewline: 'normalize' });
      const payload = `Subject: s\r\n\r\nbody\r\n\x00.\r\nMAIL FROM:<admin@victim.test>\r\nRCPT TO:<b@dest.test>\r\nDATA\r\nevil\r\n.\r\n`;
      t.equal(await message(c, payload, size), NUL_REFUSED);
      t.equal(
        await message(c, 'Subject: s\r\n\r\nNUL\x00inside a line\r\n.\r\n', size),
        NUL_REFUSED,
      );
      t.equal(hop.bodies.length, 0, 'no terminating dot reached the hop');
      t.notOk(
        hop.commands.flat().some((l) => l.includes('admin@victim.test')),
        'nor a smuggled command',
      );
      t.equal(await message(c, 'Subject: s\r\n\r\nclean\r\n.\r\n', size), QUEUED, 'mail flows');
      t.notOk(
        hop.bodies.some((b) => b.includes(0)),
        'not one NUL at the hop',
      );
      await settle();
      t.match(relay.transactions()[0], { outcome: 'rejected', final: NUL_REFUSED });
    },
  );
}

void t.test('SM-03: NUL under reject (untrusted client) stays 550 5.5.2', async (t) => {
  const { hop, c } = await setup(t);
  t.equal(await message(c, 'Subject: s\r\n\r\nbody\r\n\x00.\r\nRSET\r\n.\r\n'), BARE_REFUSED);
  t.equal(hop.bodies.length, 0);
});
