// The line-length bound (catalogue LM-02): a line is measured across chunk boundaries, CR or LF ends it, and only a line past the limit is refused.
import t from 'tap';
import { contentCheck } from '../../../src/relay/content-check.js';
import { LineLengthScanner, MAX_LINE_OCTETS } from '../../../src/relay/line-length.js';

const fits = (max: number, ...chunks: string[]): boolean => {
  const s = new LineLengthScanner(max);
  return chunks.every((c) => s.push(Buffer.from(c, 'latin1')));
};

void t.test('lines up to the limit pass, in any split', (t) => {
  t.ok(fits(4, 'abcd\r\nefgh\r\n'));
  t.ok(fits(4, 'ab', 'cd', '\r\n', 'efgh'), 'split across chunks');
  t.ok(fits(4, 'abcd\nefgh\rijkl'), 'a bare LF or CR ends a line too');
  t.ok(fits(4, ''), 'an empty chunk');
  t.end();
});

void t.test('one octet more is refused, wherever the chunks fall', (t) => {
  t.notOk(fits(4, 'abcde\r\n'));
  t.notOk(fits(4, 'ab', 'cde'), 'across chunks');
  t.notOk(fits(4, 'ok\r\nab', 'c', 'de'), 'the second line');
  t.notOk(fits(4, 'abcd\r\nefghi'), 'the last line of a chunk');
  t.end();
});

void t.test('the content check: 554 5.6.0 past 64 KiB; NUL refused under normalize', (t) => {
  const limits = { maxHops: 50, maxHeaderBytes: 1_048_576 };
  const normalize = contentCheck(limits, false);
  t.equal(normalize(Buffer.from('Subject: x\r\n\r\n')), undefined);
  t.equal(normalize(Buffer.alloc(MAX_LINE_OCTETS, 'a')), undefined);
  t.same(normalize(Buffer.from('a')), {
    code: 554,
    lines: ['5.6.0 Message contains a line longer than 65536 octets'],
  });
  const nul = contentCheck(limits, false);
  t.equal(nul(Buffer.from('Subject: x\r\n\r\nbare\nLF is normalised\r\n')), undefined);
  t.same(nul(Buffer.from('\r\n\x00.\r\n')), {
    code: 554,
    lines: ['5.6.0 Message contains a NUL character'],
  });
  const reject = contentCheck(limits, true);
  t.same(reject(Buffer.from('x\x00y')), {
    code: 550,
    lines: ['5.5.2 Message contains a bare CR, a bare LF or a NUL'],
  });
  t.end();
});
