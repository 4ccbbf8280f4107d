// Content limits checked as the body streams: a mail loop (too many Received fields) gets 554 5.4.6, an oversized header section 552 5.3.4; the next hop never gets the end of data.
import t from 'tap';
import { throughRawHop } from '../support/scenario.js';

void t.test('loops and huge headers are refused, smaller ones pass', async (t) => {
  const { hop, c } = await throughRawHop(t, (port) => ({
    relay: { maxHops: 5, maxHeaderBytes: 2048 },
    routes: [{ domains: ['*'], nextHop: `127.0.0.1:${port}` }],
  }));
  const send = async (headers: string): Promise<string> => {
    await c.send('MAIL FROM:<a@origin.test>');
    await c.send('RCPT TO:<b@dest.test>');
    await c.send('DATA');
    return c.send(`${headers}Subject: x\r\n\r\nbody\r\n.`);
  };
  t.equal(
    await send('Received: by hop\r\n'.repeat(5)),
    '554 5.4.6 Too many hops: mail loop detected',
  );
  t.equal(
    await send('Received: by hop\r\n'.repeat(4)),
    '250 2.0.0 Ok: queued',
    'one fewer passes (we add the fifth)',
  );
  t.equal(
    await send(`X-Big: ${'y'.repeat(3000)}\r\n`),
    '552 5.3.4 Message header section exceeds the fixed maximum size',
  );
  t.equal(hop.bodies.length, 1, 'only the passing message reached the next hop');
});
