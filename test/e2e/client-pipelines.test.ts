// A client that pipelines a whole transaction in one write (RFC 2920): every reply comes back in order, each the next hop's own.
import t from 'tap';
import { createTestCa } from '../support/pki.js';
import { relayAndHop, tlsClient } from '../support/scenario.js';

void t.test('answers a pipelined batch in order', async (t) => {
  const ca = await createTestCa();
  const { hop, relay } = await relayAndHop(t, {
    tls: { kind: 'tls', pair: await ca.issue(['127.0.0.1']) },
    rcptReplies: {
      'greylist@dest.test': {
        code: 451,
        message: ['4.7.1 Greylisted, please retry', '4.7.1 in five minutes'],
      },
    },
  });
  const c = await tlsClient(t, relay.port);
  c.write(
    'MAIL FROM:<a@origin.test>\r\nRCPT TO:<one@dest.test>\r\nRCPT TO:<greylist@dest.test>\r\nRCPT TO:<two@dest.test>\r\nDATA\r\n',
  );
  t.same(await c.reply(), ['250 Accepted']);
  t.same(await c.reply(), ['250 Accepted']);
  t.same(
    await c.reply(),
    ['451-4.7.1 Greylisted, please retry', '451 4.7.1 in five minutes'],
    'multi-line reply mirrored line for line',
  );
  t.same(await c.reply(), ['250 Accepted']);
  t.same(await c.reply(), ['354 End data with <CR><LF>.<CR><LF>']);
  c.write('Subject: p\r\n\r\npipelined\r\n.\r\nQUIT\r\n');
  t.same(await c.reply(), ['250 2.0.0 Ok: queued as Q1']);
  t.same(await c.reply(), ['221 Bye']);
  t.same(hop.messages[0]?.rcptTo, ['one@dest.test', 'two@dest.test']);
});
