// The envelope as the next hop sees it: A-labels, only advertised parameters, 8BITMIME and SMTPUTF8 refusals.
import t from 'tap';
import { mailCommand, needsSmtpUtf8, wirePath } from '../../../src/relay/envelope.js';

const all = new Map([
  ['SIZE', '1000'],
  ['8BITMIME', ''],
  ['SMTPUTF8', ''],
]);
const none = new Map<string, string>();
const line = (r: ReturnType<typeof mailCommand>) =>
  r.ok ? r.line : `${r.reply.code} ${r.reply.lines[0]}`;

void t.test('paths', (t) => {
  t.equal(wirePath(''), '<>');
  t.equal(wirePath('a@Bücher.test'), '<a@xn--bcher-kva.test>');
  t.equal(wirePath('postmaster'), '<postmaster>');
  t.ok(needsSmtpUtf8('jörg@example.org'));
  t.notOk(needsSmtpUtf8('a@bücher.test'), 'a Unicode domain alone goes out as A-labels');
  t.end();
});

void t.test('parameters follow what the hop advertised', (t) => {
  t.equal(
    line(
      mailCommand(
        'a@x.test',
        { SIZE: '123', BODY: '8bitmime', SMTPUTF8: true, ENVID: 'q' },
        all,
        false,
      ),
    ),
    'MAIL FROM:<a@x.test> SIZE=123 BODY=8BITMIME SMTPUTF8',
  );
  t.equal(
    line(mailCommand('a@x.test', { SIZE: '123', BODY: '7BIT' }, none, false)),
    'MAIL FROM:<a@x.test>',
  );
  t.equal(line(mailCommand('', false, all, false)), 'MAIL FROM:<>');
  t.equal(line(mailCommand('a@x.test', { SIZE: 'junk' }, all, false)), 'MAIL FROM:<a@x.test>');
  t.end();
});

void t.test('refusals when the hop lacks what the message needs', (t) => {
  t.equal(
    line(mailCommand('a@x.test', { BODY: '8BITMIME' }, none, false)),
    '554 5.6.3 Next hop does not support 8BITMIME',
  );
  t.equal(
    line(mailCommand('jörg@x.test', false, none, false)),
    '553 5.6.7 Next hop does not support SMTPUTF8 for this address',
  );
  t.equal(
    line(mailCommand('a@x.test', false, none, true)),
    '553 5.6.7 Next hop does not support SMTPUTF8 for this address',
  );
  t.equal(
    line(mailCommand('a@x.test', { SMTPUTF8: true }, none, false)),
    'MAIL FROM:<a@x.test>',
    'an ASCII envelope does not need it',
  );
  t.end();
});
