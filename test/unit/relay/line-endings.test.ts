// The smuggling guard: bare CR, bare LF and NUL are found wherever chunk boundaries fall; CRLF split across chunks is fine.
import t from 'tap';
import { LineEndingScanner } from '../../../src/relay/line-endings.js';

const clean = (...chunks: string[]): boolean => {
  const s = new LineEndingScanner();
  return chunks.every((c) => s.push(Buffer.from(c, 'latin1')));
};

void t.test('clean content passes, in any split', (t) => {
  t.ok(clean('Subject: x\r\n\r\nbody\r\n'));
  t.ok(clean('line one\r', '\nline two\r\n'), 'CRLF split across chunks');
  t.ok(clean('a\r\n', '', 'b\r\n'), 'empty chunks');
  t.end();
});

void t.test('each smuggling form is caught', (t) => {
  for (const bad of [
    'x\n.\ny\r\n',
    'x\r.\ry\r\n',
    'x\r\n.\ny',
    'x\n.\r\ny',
    'x\r\n\x00.\r\n',
    'only\nLF',
  ]) {
    t.notOk(clean(bad), JSON.stringify(bad));
  }
  t.notOk(clean('ends with CR\r', 'X'), 'bare CR at a chunk boundary');
  t.notOk(clean('ends with text', '\nstarts with LF'), 'bare LF at a chunk boundary');
  t.notOk(clean('a\r', '\r\n'), 'CR followed by CRLF');
  t.end();
});
