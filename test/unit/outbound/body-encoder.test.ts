// The body encoder: byte for byte what nodemailer's DataStream sends, wherever the chunks fall, with the prefix and terminator merged into as few writes as possible, and limits that stop a chunk before it is emitted.
import DataStream from 'nodemailer/lib/smtp-connection/data-stream';
import t from 'tap';
import { BodyEncoder, type BodyRefusal } from '../../../src/outbound/body-encoder.js';
import type { Reply } from '../../../src/smtp/reply.js';
import { prng, seedsFromEnv, type Prng } from '../../support/fuzz-prng.js';

/** Everything the encoder emits for `chunks`, chunk by chunk, and what it refused. */
async function encode(
  prefix: string,
  chunks: readonly Buffer[],
  maxBytes = Number.MAX_SAFE_INTEGER,
  inspect?: (chunk: Buffer) => Reply | undefined,
): Promise<{ out: Buffer[]; refusals: BodyRefusal[] }> {
  const refusals: BodyRefusal[] = [];
  const limits = inspect ? { maxBytes, inspect } : { maxBytes };
  const encoder = new BodyEncoder(prefix, limits, (r) => refusals.push(r));
  const out: Buffer[] = [];
  encoder.on('data', (b: Buffer) => out.push(b));
  const ended = new Promise<void>((resolve) => encoder.once('end', resolve));
  for (const chunk of chunks) encoder.write(chunk);
  encoder.end();
  await ended;
  return { out, refusals };
}

/** The oracle: nodemailer's DataStream, fed the prefix as one write and then the same chunks. */
async function oracle(prefix: string, chunks: readonly Buffer[]): Promise<Buffer> {
  const ds = new DataStream();
  const out: Buffer[] = [];
  ds.on('data', (b: Buffer) => out.push(b));
  const ended = new Promise<void>((resolve) => ds.once('end', resolve));
  ds.write(prefix);
  for (const chunk of chunks) ds.write(chunk);
  ds.end();
  await ended;
  return Buffer.concat(out);
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

// Pieces rich in what the encoding acts on; NUL-free (the content check refuses NUL upstream).
const PIECES = [
  '\r',
  '\n',
  '\r\n',
  '.',
  '..',
  '\r.',
  '\n.',
  '.\r\n',
  'a',
  'xyz',
  ' ',
  '\xe9',
  '\t',
];

function randomBody(r: Prng): Buffer {
  const parts: string[] = [];
  const n = r.int(0, 60);
  for (let i = 0; i < n; i += 1) parts.push(r.pick(PIECES));
  return b(parts.join(''));
}

/** Cuts at random places; in some modes every byte alone, or at every CR and before every dot. */
function randomSplit(r: Prng, body: Buffer): Buffer[] {
  const mode = r.int(0, 3);
  const cuts = new Set<number>();
  for (let i = 1; i < body.length; i += 1) {
    const byte = body[i - 1];
    if (mode === 0) cuts.add(i);
    else if (mode === 1 && (byte === 0x0d || body[i] === 0x2e)) cuts.add(i);
    else if (r.chance(mode === 2 ? 0.3 : 0.05)) cuts.add(i);
  }
  const chunks: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts].sort((x, y) => x - y)) {
    chunks.push(body.subarray(from, cut));
    from = cut;
  }
  chunks.push(body.subarray(from));
  // Empty chunks now and then: both sides must skip them without losing the previous byte.
  if (r.chance(0.2)) chunks.splice(r.int(0, chunks.length), 0, Buffer.alloc(0));
  return chunks;
}

const PREFIXES = ['', 'Received: from x\r\n\tby y;\r\n\tdate\r\n', '.', 'P\r', 'P\n', 'P\r\n'];

void t.test('the oracle: byte for byte what DataStream sends, for any chunking', async (t) => {
  for (const seed of seedsFromEnv([1, 2, 3, 4, 5, 6, 7, 8])) {
    const r = prng(seed);
    let first: { prefix: string; chunks: string[]; got: string; want: string } | undefined;
    const seen = { crLfSplit: 0, dotAtChunkStart: 0, crDot: 0, oneByteChunks: 0, prefixed: 0 };
    for (let n = 0; n < 400 && first === undefined; n += 1) {
      const body = randomBody(r);
      const chunks = randomSplit(r, body);
      const prefix = r.pick(PREFIXES);
      const got = Buffer.concat((await encode(prefix, chunks)).out);
      const want = await oracle(prefix, chunks);
      if (!got.equals(want)) {
        const show = (x: Buffer): string => x.toString('latin1');
        first = { prefix, chunks: chunks.map(show), got: show(got), want: show(want) };
      }
      for (let i = 1; i < chunks.length; i += 1) {
        const before = chunks[i - 1];
        const chunk = chunks[i];
        if (before?.at(-1) === 0x0d && chunk?.[0] === 0x0a) seen.crLfSplit += 1;
        if (chunk?.[0] === 0x2e) seen.dotAtChunkStart += 1;
      }
      if (body.includes('\r.')) seen.crDot += 1;
      if (chunks.length > 1 && chunks.every((c) => c.length <= 1)) seen.oneByteChunks += 1;
      if (prefix !== '') seen.prefixed += 1;
    }
    t.same(first, undefined, `seed ${seed}: first mismatch`);
    // The generator must reach the cases the property is about, or the property proves nothing.
    for (const [what, count] of Object.entries(seen)) t.ok(count > 0, `seed ${seed}: ${what}`);
  }
});

void t.test('exact wire bytes of each rule and each terminator (RFC 5321 §4.5.2)', async (t) => {
  const wire = async (prefix: string, ...chunks: string[]): Promise<string> =>
    Buffer.concat((await encode(prefix, chunks.map(b))).out).toString('latin1');
  t.equal(await wire('', ''), '\r\n.\r\n', 'an empty body: CRLF . CRLF');
  t.equal(await wire('', '.a\r\n'), '..a\r\n.\r\n', 'a dot at the very start is stuffed');
  t.equal(await wire('H\r\n', '.a\r\n'), 'H\r\n..a\r\n.\r\n', 'a dot after the prefix too');
  t.equal(await wire('', 'a\r\n', '.b'), 'a\r\n..b\r\n.\r\n', 'a dot at a chunk start');
  t.equal(await wire('', 'a\n.b\n'), 'a\r\n..b\r\n.\r\n', 'bare LF becomes CRLF');
  t.equal(await wire('', 'a\r.\rb'), 'a\r\n..\r\nb\r\n.\r\n', 'bare CR then dot: \\n. (smuggling)');
  t.equal(
    await wire('', 'a\r', '.', '\r', 'b'),
    'a\r\n..\r\nb\r\n.\r\n',
    'the same, 1-byte chunks',
  );
  t.equal(await wire('', 'a\r', '\n', '.'), 'a\r\n..\r\n.\r\n', 'CRLF split before a dot');
  t.equal(await wire('', 'a\r'), 'a\r\n.\r\n', 'ends in CR: \\n.\\r\\n');
  t.equal(await wire('', 'a\n'), 'a\r\n.\r\n', 'ends in LF: .\\r\\n after the inserted CR');
  t.equal(await wire('', 'a\r\n'), 'a\r\n.\r\n', 'ends in CRLF');
  t.equal(await wire('', 'a'), 'a\r\n.\r\n', 'ends in text');
});

void t.test('a small message is one write; a large chunk is passed on as it is', async (t) => {
  const small = await encode('Received: x\r\n', [b('Subject: s\r\n\r\nhello\r\n')]);
  t.equal(small.out.length, 1, 'prefix, body and terminator in one chunk');
  t.equal(small.out[0]?.toString(), 'Received: x\r\nSubject: s\r\n\r\nhello\r\n.\r\n');

  const line = 'x'.repeat(78) + '\r\n';
  const big = b(line.repeat(250)); // 20,000 bytes: past one TLS record, nothing to insert
  const chunks = [b('Subject: s\r\n\r\n'), big, big, b('bye\r\n')];
  const { out } = await encode('Received: x\r\n', chunks);
  t.equal(out.length, 4, 'prefix with the first chunk, each large chunk alone, the end merged');
  t.equal(out[0]?.toString(), 'Received: x\r\nSubject: s\r\n\r\n');
  t.equal(out[1], big, 'a large chunk with nothing to insert is the input buffer itself');
  t.equal(out[2], big, 'and again');
  t.equal(out[3]?.toString(), 'bye\r\n.\r\n');

  const last = await encode('', [big]);
  t.equal(last.out.length, 2, 'a large last chunk is not copied to merge the terminator');
  t.equal(last.out[0], big);
  t.equal(last.out[1]?.toString(), '.\r\n');
});

void t.test('bytes held for the merge go out when the source pauses, never later', async (t) => {
  const encoder = new BodyEncoder('Received: x\r\n', { maxBytes: 1000 }, () => undefined);
  const out: Buffer[] = [];
  encoder.on('data', (chunk: Buffer) => out.push(chunk));
  encoder.write(b('Subject: s\r\n\r\nhalf a bo'));
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(Buffer.concat(out).toString(), 'Received: x\r\nSubject: s\r\n\r\nhalf a bo', 'sent');
  t.notMatch(
    Buffer.concat(out).toString(),
    /\.\r\n$/,
    'and no terminator: the source has not ended',
  );
  const ended = new Promise<void>((resolve) => encoder.once('end', resolve));
  encoder.end(b('dy\r\n'));
  await ended;
  t.equal(Buffer.concat(out).toString(), 'Received: x\r\nSubject: s\r\n\r\nhalf a body\r\n.\r\n');
});

void t.test('too-big at the exact byte: the refused chunk is never emitted', async (t) => {
  const exact = await encode('R\r\n', [b('abcde'), b('fghij')], 10);
  t.same(exact.refusals, [], 'exactly maxBytes passes');
  t.equal(Buffer.concat(exact.out).toString(), 'R\r\nabcdefghij\r\n.\r\n');

  const over = await encode('R\r\n', [b('abcde'), b('fghij'), b('k'), b('lmn')], 10);
  t.same(over.refusals, [{ kind: 'too-big', bytes: 11 }], 'refused once, at byte 11');
  const sent = Buffer.concat(over.out).toString();
  t.notMatch(sent, /k/, 'the chunk past the limit is not emitted');
  t.notMatch(sent, /\.\r\n$/, 'no terminator after a refusal');
  t.notMatch(sent, /lmn/, 'nothing after it either');
});

void t.test('bad content: inspect sees each raw chunk; the refused one goes nowhere', async (t) => {
  const bad = { code: 554, lines: ['5.6.0 bad'] };
  const seen: string[] = [];
  const inspect = (chunk: Buffer): Reply | undefined => {
    seen.push(chunk.toString('latin1'));
    return chunk.includes('BAD') ? bad : undefined;
  };
  const big = b('y'.repeat(20_000));
  const { out, refusals } = await encode(
    'R\r\n',
    [b('.ok\n'), big, b('BAD'), b('after')],
    1e6,
    inspect,
  );
  t.same(refusals, [{ kind: 'bad-content', reply: bad, bytes: 20_007 }]);
  t.same(seen, ['.ok\n', big.toString('latin1'), 'BAD'], 'raw chunks, nothing after the refusal');
  t.equal(Buffer.concat(out).toString('latin1'), 'R\r\n..ok\r\n', 'only what came before it');
});
