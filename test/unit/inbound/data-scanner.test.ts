// The indexOf DATA scan against smtp-server's own, as an oracle: the same message bytes, the same end, the same commands after it, in every chunking.
import { SMTPStream } from 'smtp-server/lib/smtp-stream';
import t from 'tap';
import { scanDataWithIndexOf } from '../../../src/inbound/data-scanner.js';

interface Seen {
  readonly data: string;
  readonly byteLength: number | undefined;
  readonly sizeExceeded: boolean | undefined;
  readonly commands: readonly string[];
  readonly ended: boolean;
}

/** Deterministic PRNG (mulberry32), so a failure names its seed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Input dense in what the scan looks for: line ends, dots, doubled dots, early terminators. */
function input(next: () => number): string {
  const pieces = ['\r\n', '\n', '\r', '.', '..', 'x', 'yz', '\r\n.', '\r\n..', '\r\n.\r\n'];
  let text = '';
  const length = Math.floor(next() * (next() < 0.1 ? 1500 : 120));
  for (let i = 0; i < length; i += 1) text += pieces[Math.floor(next() * pieces.length)] ?? '';
  // Usually ends the data properly, with commands pipelined behind it.
  if (next() < 0.8) text += '\r\n.\r\nRSET\r\nNOOP\r\n';
  return text;
}

function chunked(bytes: Buffer, next: () => number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length;) {
    const pick = next();
    const most = pick < 0.2 ? 4 : pick < 0.9 ? 40 : 2000;
    const size = 1 + Math.floor(next() * most);
    chunks.push(bytes.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

async function run(
  chunks: readonly Buffer[],
  patched: boolean,
  maxBytes = 1_000_000,
): Promise<Seen> {
  const parser = new SMTPStream();
  if (patched) scanDataWithIndexOf(parser);
  const commands: string[] = [];
  parser.oncommand = (command: Buffer, callback?: () => void): void => {
    commands.push(command.toString('latin1'));
    callback?.();
  };
  const stream = parser.startDataMode(maxBytes);
  const parts: Buffer[] = [];
  let ended = false;
  stream.on('data', (chunk: Buffer) => parts.push(chunk));
  stream.on('end', () => {
    ended = true;
    parser.continue();
  });
  for (const chunk of chunks) {
    await new Promise<void>((resolve, reject) =>
      parser.write(chunk, (err) => (err ? reject(err) : resolve())),
    );
  }
  await new Promise<void>((resolve) => parser.end(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  return {
    data: Buffer.concat(parts).toString('latin1'),
    byteLength: (stream as { byteLength?: number }).byteLength,
    sizeExceeded: (stream as { sizeExceeded?: boolean }).sizeExceeded,
    commands,
    ended,
  };
}

void t.test(
  'the same bytes, end, size and commands as smtp-server, in every chunking',
  async (t) => {
    let compared = 0;
    let endedCount = 0;
    for (let seed = 1; seed <= 6; seed += 1) {
      const next = random(seed);
      for (let n = 0; n < 150; n += 1) {
        const bytes = Buffer.from(input(next), 'latin1');
        const chunks = chunked(bytes, next);
        // A small limit now and then: the size is tracked the same way while the data flows.
        const limit = next() < 0.2 ? 100 : 1_000_000;
        const [theirs, ours] = await Promise.all([
          run(chunks, false, limit),
          run(chunks, true, limit),
        ]);
        if (JSON.stringify(theirs) !== JSON.stringify(ours)) {
          t.same(ours, theirs, `seed ${seed}, input ${n}: ${JSON.stringify(bytes.toString())}`);
          return;
        }
        compared += 1;
        if (ours.ended) endedCount += 1;
      }
    }
    t.equal(compared, 900, 'every input agreed');
    t.ok(endedCount > 600, `most inputs reached their end (${endedCount})`);
  },
);

void t.test('known cases, whole and a byte at a time', async (t) => {
  const cases: ReadonlyArray<readonly [string, string, readonly string[]]> = [
    ['.\r\nQUIT\r\n', '', ['QUIT']],
    ['..\r\n.\r\n', '.\r\n', []],
    ['a\r\n..b\r\n...\r\n.\r\nNOOP\r\n', 'a\r\n.b\r\n..\r\n', ['NOOP']],
    ['a\n.\r\nb\r\n.\r\n', 'a\n.\r\nb\r\n', []],
    ['line\r\n.\r\n', 'line\r\n', []],
  ];
  for (const [text, body, commands] of cases) {
    const bytes = Buffer.from(text, 'latin1');
    for (const chunks of [[bytes], [...bytes].map((b) => Buffer.from([b]))]) {
      const seen = await run(chunks, true);
      t.equal(seen.data, body, `${JSON.stringify(text)} in ${chunks.length} chunk(s): body`);
      t.same(seen.commands, commands, `${JSON.stringify(text)}: commands after the end`);
      t.ok(seen.ended, `${JSON.stringify(text)}: data ended`);
    }
  }
});

void t.test('a large chunk is scanned at once and waits for a slow reader', async (t) => {
  const parser = new SMTPStream();
  scanDataWithIndexOf(parser);
  parser.oncommand = () => undefined;
  const stream = parser.startDataMode(10_000_000);
  const body = Buffer.from(`${'x'.repeat(78)}\r\n`.repeat(4000), 'latin1');
  let written = false;
  parser.write(body, () => (written = true));
  await new Promise((resolve) => setImmediate(resolve));
  t.notOk(written, 'held while nobody reads the data stream (backpressure)');
  const parts: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => parts.push(chunk));
  const ended = new Promise((resolve) => stream.once('end', resolve));
  parser.write(Buffer.from('.\r\n'));
  await ended;
  t.ok(written, 'released once read');
  t.equal(Buffer.concat(parts).length, body.length, 'every byte, in order');
  t.ok(Buffer.concat(parts).equals(body), 'unchanged');
});

/**
 * A reader that gives up on the message: it destroys the data stream at its first bytes and the
 * answer comes a microtask later (smtp-server's handler_DATA calls `continue()` as soon as onData
 * calls back on a stream that is no longer readable). The next transaction is pipelined in the
 * same chunk, with DATA handled synchronously (smtp-server's default handlers).
 */
async function abandoned(
  text: string,
  patched: boolean,
): Promise<{ commands: string[]; written: boolean }> {
  const parser = new SMTPStream();
  if (patched) scanDataWithIndexOf(parser);
  const commands: string[] = [];
  const open = (giveUp: boolean): void => {
    const stream = parser.startDataMode(1_000_000);
    stream.on('end', () => parser.continue());
    if (!giveUp) {
      stream.resume();
      return;
    }
    stream.once('data', () => {
      stream.destroy();
      queueMicrotask(() => parser.continue());
    });
  };
  parser.oncommand = (command: Buffer, callback?: () => void): void => {
    commands.push(command.toString('latin1'));
    if (command.toString('latin1') === 'DATA') open(false);
    callback?.();
  };
  open(true);
  let written = false;
  parser.write(Buffer.from(text, 'latin1'), () => (written = true));
  // Event-loop turns, not time: smtp-server's own run is over well within them.
  for (let turn = 0; turn < 20; turn += 1) await new Promise((resolve) => setImmediate(resolve));
  return { commands, written };
}

void t.test('a destroyed message with an escape dot, then a pipelined transaction', async (t) => {
  // The escape dot makes smtp-server finish the chunk a turn later, after the reader's continue().
  const text = 'a\r\n..b\r\n.\r\nDATA\r\n.\r\nQUIT\r\n';
  const theirs = await abandoned(text, false);
  t.same(theirs, { commands: ['DATA', 'QUIT'], written: true }, 'smtp-server: QUIT is read');
  const ours = await abandoned(text, true);
  t.same(ours, theirs, 'ours: the same commands, and the chunk is taken');
});
