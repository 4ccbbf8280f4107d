// The header scanner: Received fields counted at line starts only, the section ends at the first empty line, any chunking.
import t from 'tap';
import { HeaderScanner } from '../../../src/relay/header-scan.js';

function scan(text: string, chunkSize: number): HeaderScanner {
  const s = new HeaderScanner();
  const buf = Buffer.from(text, 'latin1');
  for (let i = 0; i < buf.length; i += chunkSize) s.push(buf.subarray(i, i + chunkSize));
  return s;
}

void t.test('counts Received fields in the header section only, whatever the chunking', (t) => {
  const msg =
    'Received: a\r\nRECEIVED: b\r\n\tfolded Received: no\r\nX-Received: no\r\nSubject: x\r\n\r\nReceived: in the body\r\n';
  for (const size of [1, 3, 17, 1000]) {
    const s = scan(msg, size);
    t.equal(s.received, 2, `chunks of ${size}`);
    t.equal(s.inHeader, false);
    t.equal(s.headerBytes, msg.indexOf('\r\n\r\n') + 4);
  }
  t.equal(scan('Received: a\n\nReceived: body', 5).received, 1, 'a bare-LF empty line ends it too');
  t.equal(scan('Subject: no body yet', 4).inHeader, true);
  t.end();
});
