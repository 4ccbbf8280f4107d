// Shows SMTP replies read whole off a stream: multi-line replies, split chunks, bare LF, and peers that break the syntax.
import { PassThrough } from 'node:stream';
import type { Socket } from 'node:net';
import t from 'tap';
import { ReplyReader, replyText } from '../../../src/probe/reply-reader.js';

function reader(): { stream: PassThrough; reader: ReplyReader } {
  const stream = new PassThrough();
  return { stream, reader: new ReplyReader(stream as unknown as Socket) };
}

void t.test('multi-line replies arrive whole, however the bytes are split', async (t) => {
  const { stream, reader: r } = reader();
  stream.write('220 mx.test ESMTP\r\n250-mx.test\r\n250-PIPE');
  stream.write('LINING\r\n250 STARTTLS\n250\r\n');
  t.strictSame(await r.next(), { code: 220, lines: ['mx.test ESMTP'] });
  t.strictSame(await r.next(), { code: 250, lines: ['mx.test', 'PIPELINING', 'STARTTLS'] });
  const bare = await r.next();
  t.strictSame(bare, { code: 250, lines: [''] });
  t.equal(replyText(bare), '250');
  t.equal(r.detach(), false);
});

void t.test('bytes left after the last reply are reported on detach', async (t) => {
  const { stream, reader: r } = reader();
  stream.write('220 go ahead\r\n250 injected\r\n');
  t.equal((await r.next()).code, 220);
  t.equal(r.detach(), true);
});

void t.test('broken syntax, mixed codes, long lines and an end reject', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['hello\r\n', /not an SMTP reply: "hello"/],
    ['250-a\r\n251 b\r\n', /reply codes differ/],
    [`220 ${'x'.repeat(5000)}`, /reply line too long/],
  ];
  for (const [input, error] of cases) {
    const { stream, reader: r } = reader();
    stream.write(input);
    await t.rejects(r.next(), error);
  }
  const { stream, reader: r } = reader();
  const pending = r.next();
  stream.end();
  await t.rejects(pending, /connection closed by the server/);
  await t.rejects(r.next(), /connection closed by the server/);
});
