/**
 * @module The fuzzing corpus: valid SMTP command sequences, and seeded mutations of them (byte
 * flips, truncations, duplications, deletions, swaps) and hostile tokens (very long lines, NUL,
 * bare CR/LF, non-UTF-8, `%`/`!` routing, huge SIZE=, BDAT, AUTH garbage, PROXY headers, a TLS
 * ClientHello on the plaintext port).
 */
import type { Prng } from './fuzz-prng.js';

export interface FuzzCase {
  /** Command lines as sent, each ending with its line end (bytes may be anything). */
  readonly lines: Buffer[];
  /** Message bodies, one taken each time a DATA is answered 354 (without the final dot). */
  readonly bodies: Buffer[];
}

const BODY = 'From: <a@origin.test>\r\nTo: <b@dest.test>\r\nSubject: fuzz\r\n\r\nhello\r\n';

const SEQUENCES: readonly (readonly string[])[] = [
  ['EHLO client.test', 'MAIL FROM:<a@origin.test>', 'RCPT TO:<b@dest.test>', 'DATA', 'QUIT'],
  [
    'HELO client.test',
    'MAIL FROM:<a@origin.test>',
    'RCPT TO:<b@dest.test>',
    'RCPT TO:<c@dest.test>',
    'RSET',
    'NOOP',
    'QUIT',
  ],
  [
    'EHLO client.test',
    'STARTTLS',
    'EHLO client.test',
    'MAIL FROM:<a@origin.test>',
    'RCPT TO:<b@dest.test>',
    'DATA',
    'QUIT',
  ],
  [
    'EHLO client.test',
    'MAIL FROM:<a@origin.test> SIZE=1000 BODY=8BITMIME',
    'RCPT TO:<b@dest.test>',
    'DATA',
    'MAIL FROM:<>',
    'RCPT TO:<d@dest.test>',
    'DATA',
  ],
  ['EHLO client.test', 'VRFY b', 'EXPN list', 'HELP', 'NOOP', 'RSET', 'QUIT'],
  [
    'EHLO client.test',
    'STARTTLS',
    'EHLO client.test',
    'AUTH PLAIN AGEAYg==',
    'MAIL FROM:<a@origin.test>',
    'QUIT',
  ],
];

/** A TLS 1.2 ClientHello's first bytes: what a client sends when it expects implicit TLS. */
const CLIENT_HELLO = Buffer.from(
  '16030100a5010000a10303' +
    '5b'.repeat(32) +
    '000020c02bc02fc02cc030cca9cca8c009c013c00ac014009c009d002f0035000a0100005800000014',
  'hex',
);

function hostile(rng: Prng): Buffer {
  const pick = rng.int(0, 15);
  switch (pick) {
    case 0:
      return Buffer.from(
        `${rng.pick(['EHLO ', 'MAIL FROM:<', 'NOOP ', ''])}${'x'.repeat(rng.int(500, 20_000))}`,
      );
    case 1:
      return Buffer.from(`NOOP\0${rng.pick(['', 'x', '\0\0'])}`);
    case 2:
      return Buffer.from(`RCPT TO:<b@dest.test>\r${rng.pick(['', 'x', 'RCPT TO:<c@dest.test>'])}`);
    case 3:
      return Buffer.from(`NOOP\n${rng.pick(['', 'NOOP', 'QUIT', 'RSET'])}`);
    case 4:
      return Buffer.concat([Buffer.from('EHLO '), rng.bytes(rng.int(1, 40)).map((b) => b | 0x80)]);
    case 5:
      return Buffer.from(
        rng.pick([
          'RCPT TO:<a%b@dest.test>',
          'RCPT TO:<a!b@dest.test>',
          'RCPT TO:<@x.test:a@dest.test>',
          'RCPT TO:<b!a%c@dest.test>',
        ]),
      );
    case 6:
      return Buffer.from(
        `MAIL FROM:<a@origin.test> SIZE=${rng.pick(['99999999999999999999999', '-1', '1e9', '0x10', '', '52428801'])}`,
      );
    case 7:
      return Buffer.from(`BDAT ${rng.pick(['10', '0 LAST', '99999999999', 'x'])}`);
    case 8:
      return Buffer.from(
        `AUTH ${rng.pick(['PLAIN', 'LOGIN', 'XOAUTH2', 'CRAM-MD5', 'PLAIN ====', 'PLAIN ' + 'A'.repeat(rng.int(1, 5000)), ''])}`,
      );
    case 9:
      return Buffer.from(
        rng.pick(['PROXY TCP4 1.2.3.4 5.6.7.8 1111 25', 'PROXY UNKNOWN', 'PROXY TCP6 ::1 ::1 1 2']),
      );
    case 10:
      return Buffer.from('0d0a0d0a000d0a515549540a', 'hex'); // the PROXY v2 signature
    case 11:
      return CLIENT_HELLO;
    case 12:
      return rng.bytes(rng.int(0, 64));
    case 13:
      return Buffer.from(rng.pick(['', ' ', 'DATA', 'STARTTLS', 'QUIT', 'RSET', 'EHLO', 'HELO']));
    case 14:
      return Buffer.from(
        `MAIL FROM:<a@origin.test> ${rng.pick(['BODY=BINARYMIME', 'SMTPUTF8', 'RET=FULL', 'FOO=bar', 'AUTH=<>', 'BODY='])}`,
      );
    default:
      return Buffer.from(`RCPT TO:<${'a'.repeat(rng.int(60, 400))}@dest.test>`);
  }
}

function mutateBytes(line: Buffer, rng: Prng): Buffer {
  const out = Buffer.from(line);
  switch (rng.int(0, 2)) {
    case 0: // byte flips
      for (let i = rng.int(1, 3); i > 0 && out.length > 0; i -= 1)
        out[rng.int(0, out.length - 1)] = rng.int(0, 255);
      return out;
    case 1: // truncation
      return out.subarray(0, rng.int(0, out.length));
    default: // a slice of itself appended
      return Buffer.concat([out, out.subarray(rng.int(0, out.length))]);
  }
}

function mutateBody(rng: Prng): Buffer {
  const pieces: Buffer[] = [Buffer.from(BODY)];
  for (let i = rng.int(0, 3); i > 0; i -= 1) {
    pieces.push(
      rng.pick<Buffer>([
        Buffer.from('bare\nLF\r\n'),
        Buffer.from('bare\rCR\r\n'),
        Buffer.from('NUL\0here\r\n'),
        Buffer.from('caf\xc3\xa9 8-bit \xff\r\n', 'latin1'),
        Buffer.from(`${'y'.repeat(rng.int(990, 5000))}\r\n`),
        Buffer.from('.leading dot\r\n'),
        Buffer.from('\r\n.\r\n'.slice(0, rng.int(1, 4))),
        rng.bytes(rng.int(1, 200)),
      ]),
    );
  }
  return Buffer.concat(pieces);
}

/** One seeded case: a corpus sequence with 1–4 mutations. */
export function fuzzCase(rng: Prng): FuzzCase {
  const lines: Buffer[] = rng.pick(SEQUENCES).map((l) => Buffer.from(l));
  for (let m = rng.int(1, 4); m > 0; m -= 1) {
    const i = rng.int(0, Math.max(0, lines.length - 1));
    const line = lines[i] ?? Buffer.alloc(0);
    switch (rng.int(0, 4)) {
      case 0:
        lines[i] = mutateBytes(line, rng);
        break;
      case 1:
        lines.splice(i, 0, Buffer.from(line));
        break;
      case 2:
        if (lines.length > 1) lines.splice(i, 1);
        break;
      case 3: {
        const j = rng.int(0, lines.length - 1);
        lines[i] = lines[j] ?? line;
        lines[j] = line;
        break;
      }
      default:
        lines.splice(i, 0, hostile(rng));
    }
  }
  const ends = ['\r\n', '\r\n', '\r\n', '\n'];
  return {
    lines: lines.map((l) => Buffer.concat([l, Buffer.from(rng.pick(ends))])),
    bodies: Array.from({ length: 3 }, () => mutateBody(rng)),
  };
}

/**
 * The body as sent: every `.` that starts a line (after CR or LF, so a bare one cannot end the
 * data early either) doubled (RFC 5321 §4.5.2), then the terminating `.` line.
 */
export function dataBytes(body: Buffer): Buffer {
  const out: number[] = [];
  let lineStart = true;
  for (const b of body) {
    if (lineStart && b === 0x2e) out.push(0x2e);
    out.push(b);
    lineStart = b === 0x0a || b === 0x0d;
  }
  const tail = body.length === 0 || body.subarray(-2).toString() === '\r\n' ? '' : '\r\n';
  return Buffer.concat([Buffer.from(out), Buffer.from(`${tail}.\r\n`)]);
}
