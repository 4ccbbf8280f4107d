// SMTP smuggling bodies from a trusted client (allowedNetworks, normalised by default) reach the next hop as one message, the sequences neutralised.
import t from 'tap';
import { throughRawHop } from '../support/scenario.js';

// The SEC Consult scanner's inbound list and more: none of them may end DATA at the next hop.
const SEQUENCES = ['\n.\n', '\r.\r', '\n.\r\n', '\r\n.\n', '\r.\n', '\n.\r', '\r.\r\n', '\r\n.\r'];

void t.test('each smuggling sequence arrives neutralised inside one message', async (t) => {
  const { hop, c } = await throughRawHop(t, (port) => ({
    routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${port}` }],
  }));
  for (const seq of SEQUENCES) {
    t.equal(await c.send('MAIL FROM:<a@origin.test>'), '250 Accepted');
    t.equal(await c.send('RCPT TO:<b@dest.test>'), '250 Accepted');
    t.equal(await c.send('DATA'), '354 End data with <CR><LF>.<CR><LF>');
    c.write(
      `Subject: s\r\n\r\nx${seq}MAIL FROM:<smuggled@evil.test>\r\nRCPT TO:<victim@dest.test>\r\nDATA\r\nsmuggled\r\n.\r\n`,
    );
    t.equal(await c.line(), '250 2.0.0 Ok: queued', `one final reply for ${JSON.stringify(seq)}`);
  }
  t.equal(hop.bodies.length, SEQUENCES.length, 'one message per transaction, none smuggled');
  const commands = hop.commands.flat();
  t.notOk(
    commands.some((l) => l.includes('smuggled@evil.test')),
    'the smuggled MAIL never reached the hop as a command',
  );
  for (const body of hop.bodies) {
    const text = body.toString('latin1');
    t.notMatch(text, /(?<!\r)\n|\r(?!\n)/, 'no bare LF or CR on the wire');
    t.match(text, /\r\n\.\.\r\n|\r\n\.\.MAIL|x\r\n\.\.\r\n/, 'the lone dot is stuffed');
  }
});
