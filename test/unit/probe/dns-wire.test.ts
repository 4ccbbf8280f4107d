// Shows the DNS wire format the TLSA lookup uses: the query's exact bytes, compressed names, TLSA presentation form, server addresses.
import t from 'tap';
import { decodeResponse, encodeName, encodeQuery, tlsaText } from '../../../src/probe/dns-wire.js';
import { parseServer } from '../../../src/probe/tlsa.js';

void t.test('a TLSA query: RD and AD set, one question, an EDNS0 OPT record', (t) => {
  const q = encodeQuery(0x1234, '_25._tcp.mx.test', 52);
  // ID, flags RD+AD, QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 1.
  const header = '1234' + '0120' + '0001' + '0000' + '0000' + '0001';
  // The name's labels, type 52 (TLSA), class IN.
  const question = '035f3235' + '045f746370' + '026d78' + '0474657374' + '00' + '0034' + '0001';
  // OPT: root name, type 41, UDP payload 1232, no extended flags, no data.
  const opt = '00' + '0029' + '04d0' + '00000000' + '0000';
  t.equal(q.toString('hex'), header + question + opt);
  t.throws(() => encodeName(`${'a'.repeat(64)}.test`), /invalid DNS name/);
  t.throws(() => encodeName('a..test'), /invalid DNS name/);
  t.throws(() => encodeName(`${'a.'.repeat(130)}test`), /DNS name too long/);
  t.end();
});

void t.test('a response with a compressed answer name', (t) => {
  const question = Buffer.concat([encodeName('_25._tcp.mx.test'), Buffer.from('00340001', 'hex')]);
  const rdata = Buffer.from('030101beef', 'hex');
  const answer = Buffer.concat([Buffer.from('c00c00340001000001000005', 'hex'), rdata]);
  const header = Buffer.from('abcd81a0000100010000' + '0000', 'hex');
  const r = decodeResponse(Buffer.concat([header, question, answer]));
  t.equal(r.id, 0xabcd);
  t.equal(r.rcode, 0);
  t.equal(r.truncated, false);
  t.equal(r.authenticated, true);
  t.strictSame(r.question, { name: '_25._tcp.mx.test', type: 52 });
  t.equal(r.answers.length, 1);
  t.equal(r.answers[0]?.name, '_25._tcp.mx.test');
  t.equal(tlsaText(r.answers[0]?.data ?? Buffer.alloc(0)), '3 1 1 beef');
  t.end();
});

void t.test('malformed responses are refused', (t) => {
  t.throws(() => decodeResponse(Buffer.alloc(5)), /shorter than its header/);
  t.throws(
    () => decodeResponse(Buffer.from('abcd01000000000000000000', 'hex')),
    /not a DNS response/,
  );
  // An answer whose name is a pointer to itself.
  const loop = Buffer.from('abcd81800000000100000000c00c', 'hex');
  t.throws(() => decodeResponse(loop), /compression loop/);
  // An answer whose data runs past the end.
  const short = Buffer.from(
    'abcd81800000000100000000' + '00' + '0034000100000100' + '0010' + '03',
    'hex',
  );
  t.throws(() => decodeResponse(short), /runs past the response/);
  t.throws(() => tlsaText(Buffer.from('0301', 'hex')), /shorter than 3 octets/);
  t.end();
});

void t.test('resolver server strings', (t) => {
  t.strictSame(parseServer('192.0.2.53'), { address: '192.0.2.53', port: 53 });
  t.strictSame(parseServer('127.0.0.1:5353'), { address: '127.0.0.1', port: 5353 });
  t.strictSame(parseServer('2001:db8::53'), { address: '2001:db8::53', port: 53 });
  t.strictSame(parseServer('[2001:db8::53]:5353'), { address: '2001:db8::53', port: 5353 });
  t.equal(parseServer('dns.example'), undefined);
  t.end();
});
