// Replies as data: parsing a next hop's reply, the wire form, and the catalogue's enhanced codes.
import t from 'tap';
import { replies } from '../../../src/smtp/replies.js';
import { enhancedCode, parseReply, reply, replyText, wireForm } from '../../../src/smtp/reply.js';

void t.test('parses single and multi-line replies', (t) => {
  t.same(parseReply('250 2.1.5 Ok\r\n'), { code: 250, lines: ['2.1.5 Ok'] });
  t.same(parseReply('451-4.7.1 Greylisted\n451 4.7.1 retry later'), {
    code: 451,
    lines: ['4.7.1 Greylisted', '4.7.1 retry later'],
  });
  t.same(parseReply('354'), { code: 354, lines: [''] });
  t.end();
});

void t.test('refuses what is not an SMTP reply', (t) => {
  for (const raw of [
    '',
    'hello',
    '25 short',
    '600 out of range',
    '250-a\n550 mixed codes',
    '250x',
  ]) {
    t.equal(parseReply(raw), undefined, JSON.stringify(raw));
  }
  t.end();
});

void t.test('renders the wire form and the log form', (t) => {
  const r = { code: 451, lines: ['4.7.1 first', '4.7.1 second'] };
  t.equal(wireForm(r), '451-4.7.1 first\r\n451 4.7.1 second');
  t.equal(replyText(r), '451 4.7.1 first / 4.7.1 second');
  t.equal(enhancedCode(r), '4.7.1');
  t.equal(enhancedCode(reply(250, '2.0.0', 'x')), '2.0.0');
  t.equal(enhancedCode({ code: 250, lines: ['Accepted'] }), undefined);
  t.end();
});

void t.test('every catalogue reply carries an enhanced code of its class (RFC 3463)', (t) => {
  for (const [name, r] of Object.entries(replies)) {
    t.equal(enhancedCode(r)?.[0], String(r.code)[0], name);
  }
  t.end();
});
