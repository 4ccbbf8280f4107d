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

void t.test('chunk boundaries: the line is measured across any number of chunks', (t) => {
  t.ok(fits(4, 'ab\r', '\ncd', 'cd'), 'CR and LF split, the next line fills up exactly');
  t.notOk(fits(4, 'ab\r', '\ncd', 'cde'), 'one more across the boundary');
  t.ok(fits(4, 'abcd\r\nabcd\nabcd\rabcd'), 'several full lines in a chunk past the bound');
  t.notOk(fits(4, 'abcd\r\nabcd\nabcde\rab'), 'an inner line one too long');
  t.ok(fits(4, 'a', 'b', 'c', 'd', '\n', 'abcd'), 'one octet at a time');
  t.notOk(fits(4, 'a', 'b', 'c', 'd', 'e'), 'one octet at a time, one too many');
  t.ok(fits(4, 'abc', 'd\r'), 'a line end as the last octet of a chunk');
  t.notOk(fits(4, 'abcd', 'e\r\n'), 'the fifth octet opens the next chunk');
  t.ok(fits(4, '\r\n\r\n\r\n\r\n\r\n'), 'only line ends');
  t.end();
});

void t.test('the same verdict as a byte-by-byte count, for random text and random chunks', (t) => {
  let seed = 7;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const alphabet = ['a', 'a', 'a', 'a', '\r', '\n'];
  let refused = 0;
  for (let n = 0; n < 2000; n += 1) {
    const text = Array.from({ length: rand(40) }, () => alphabet[rand(6)]).join('');
    let longest = 0;
    let run = 0;
    for (const c of text) {
      run = c === '\r' || c === '\n' ? 0 : run + 1;
      longest = Math.max(longest, run);
    }
    const chunks: string[] = [];
    for (let from = 0; from < text.length;) {
      const to = from + 1 + rand(10);
      chunks.push(text.slice(from, to));
      from = to;
    }
    if (fits(6, ...chunks) !== longest <= 6) {
      t.fail(`${JSON.stringify(chunks)}: longest line ${longest}`);
      break;
    }
    if (longest > 6) refused += 1;
  }
  t.ok(refused > 100 && refused < 1900, `both verdicts reached (${refused} refused)`);
  t.end();
});

void t.test('a 7-bit hop: 554 5.6.3 for any octet above 0x7f, wherever it sits', (t) => {
  const limits = { maxHops: 50, maxHeaderBytes: 1_048_576 };
  const sevenBit = contentCheck(limits, false, false);
  t.equal(sevenBit(Buffer.from('Subject: x\r\n\r\n\x7f ascii\r\n', 'latin1')), undefined);
  t.same(sevenBit(Buffer.from('body \x80\r\n', 'latin1')), {
    code: 554,
    lines: ['5.6.3 Next hop does not support 8BITMIME'],
  });
  const late = contentCheck(limits, false, false);
  t.equal(late(Buffer.alloc(60_000, 'a').fill('\r\n', 100, 102)), undefined);
  t.ok(late(Buffer.from([0x61, 0xff])), 'the last octet of a chunk');
  t.equal(contentCheck(limits, false, true)(Buffer.from('caf\xe9\r\n', 'latin1')), undefined);
  t.end();
});
