// Every DATA scenario (plain, dot-stuffed, the end-of-data sequence split across writes, bare LF/CR/NUL smuggling under reject and normalize, the size limit, 8-bit) replayed in 1-, 3- and 17-byte writes: the same replies, and the same bytes at the next hop, as one write.
import t from 'tap';
import { startRawHop, type RawHop } from '../support/raw-hop.js';
import { startTestRelay } from '../support/relay.js';
import { tlsClient } from '../support/scenario.js';
import { writeChunked } from '../support/chunked-write.js';

const MAX_SIZE = 8192;
const HEAD = 'From: <a@origin.test>\r\nTo: <b@dest.test>\r\nSubject: replay\r\n\r\n';

interface Scenario {
  readonly name: string;
  /** What follows the 354: the body as on the wire, terminating `.` line included. */
  readonly data: Buffer;
  /** The reply to the end of data in one write (each chunking must give the same). */
  readonly final: RegExp;
}

const filler = (n: number): string => {
  let s = '';
  while (s.length + 78 <= n) s += `${'f'.repeat(76)}\r\n`;
  return s + 'g'.repeat(Math.max(0, n - s.length - 2)) + (n - s.length >= 2 ? '\r\n' : '');
};
const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
const ACCEPTED = /^250 2\.0\.0 Ok: queued$/;
const SMUGGLING = /^550 5\.5\.2 /;

const SCENARIOS: readonly Scenario[] = [
  { name: 'plain message', data: bytes(`${HEAD}hello\r\nworld\r\n.\r\n`), final: ACCEPTED },
  {
    name: 'dot-stuffed lines',
    data: bytes(`${HEAD}..leading dot\r\n...\r\n..\r\nend\r\n.\r\n`),
    final: ACCEPTED,
  },
  {
    name: 'a lone dot inside a line and CRLF runs',
    data: bytes(`${HEAD}a.\r\n.b\r\n\r\n\r\n \r\n.\r\n`.replace('\r\n.b', '\r\n..b')),
    final: ACCEPTED,
  },
  {
    name: '8-bit body',
    data: bytes(`${HEAD}caf\xc3\xa9 \xe2\x82\xac \xff\xfe\r\n.\r\n`),
    final: ACCEPTED,
  },
  { name: 'bare LF', data: bytes(`${HEAD}one\ntwo\r\n.\r\n`), final: SMUGGLING },
  { name: 'bare CR', data: bytes(`${HEAD}one\rtwo\r\n.\r\n`), final: SMUGGLING },
  { name: 'NUL', data: bytes(`${HEAD}one\0two\r\n.\r\n`), final: SMUGGLING },
  {
    name: 'smuggled end of data (LF.LF)',
    data: bytes(`${HEAD}one\n.\nMAIL FROM:<x@y>\r\n.\r\n`),
    final: SMUGGLING,
  },
  {
    name: 'smuggled end of data (CR.CR)',
    data: bytes(`${HEAD}one\r.\rRSET\r\n.\r\n`),
    final: SMUGGLING,
  },
  {
    name: 'under the size limit',
    data: bytes(`${HEAD}${filler(MAX_SIZE - HEAD.length - 600)}.\r\n`),
    final: ACCEPTED,
  },
  {
    name: 'at the size limit',
    data: bytes(`${HEAD}${filler(MAX_SIZE - HEAD.length)}.\r\n`),
    final: /^(250|552) /,
  },
  {
    name: 'over the size limit',
    data: bytes(`${HEAD}${filler(MAX_SIZE - HEAD.length + 600)}.\r\n`),
    final: /^552 5\.3\.4 /,
  },
];

/** The hop's bytes without the relay's own Received field (its time and ids differ per run). */
function withoutOurReceived(body: Buffer | undefined): string | undefined {
  if (body === undefined) return undefined;
  return body.toString('latin1').replace(/^Received: [^\r\n]*(\r\n[ \t][^\r\n]*)*\r\n/, '');
}

async function replay(
  port: number,
  hop: RawHop,
  scenario: Scenario,
  size: number,
  t: Parameters<typeof tlsClient>[0],
): Promise<{ replies: string[]; atHop: string | undefined }> {
  const c = await tlsClient(t, port);
  const before = hop.bodies.length;
  const replies: string[] = [];
  for (const command of ['MAIL FROM:<a@origin.test>', 'RCPT TO:<b@dest.test>', 'DATA']) {
    await writeChunked(c, bytes(`${command}\r\n`), size);
    replies.push(await c.line());
  }
  await writeChunked(c, scenario.data, size);
  replies.push(await c.line());
  await writeChunked(c, bytes('QUIT\r\n'), size);
  replies.push(await c.line());
  c.close();
  return {
    replies,
    atHop: hop.bodies.length > before ? withoutOurReceived(hop.bodies[before]) : undefined,
  };
}

for (const bareNewline of ['reject', 'normalize'] as const) {
  void t.test(`chunked replay, bareNewline: ${bareNewline}`, async (t) => {
    const hop = await startRawHop();
    t.teardown(() => hop.close());
    const relay = await startTestRelay({
      routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}` }],
      // No network exempt: loopback clients get the policy as written.
      relay: { maxMessageSize: MAX_SIZE, bareNewline, bareNewlineExempt: [] },
    });
    t.teardown(() => relay.close());
    for (const scenario of SCENARIOS) {
      const whole = await replay(relay.port, hop, scenario, 0, t);
      const smuggling = scenario.final === SMUGGLING;
      if (smuggling && bareNewline === 'normalize' && scenario.name === 'NUL') {
        // A NUL is never relayed, normalize or not (catalogue SM-03): 554 5.6.0, nothing sent.
        t.match(whole.replies[3], /^554 5\.6\.0 /, 'NUL: refused under normalize too');
        t.equal(whole.atHop, undefined, 'NUL: nothing relayed');
      } else if (smuggling && bareNewline === 'normalize') {
        t.match(whole.replies[3], ACCEPTED, `${scenario.name}: normalised and relayed`);
        t.notOk(
          /[^\r]\n|\r[^\n]/.test(whole.atHop ?? '\n'),
          `${scenario.name}: only CRLF line endings at the hop`,
        );
      } else {
        t.match(whole.replies[3], scenario.final, `${scenario.name}: one write`);
        if (!ACCEPTED.test(whole.replies[3] ?? ''))
          t.equal(whole.atHop, undefined, `${scenario.name}: nothing relayed`);
      }
      for (const size of [1, 3, 17]) {
        const chunked = await replay(relay.port, hop, scenario, size, t);
        t.same(
          chunked.replies,
          whole.replies,
          `${scenario.name}: ${size}-byte writes, same replies`,
        );
        t.equal(
          chunked.atHop,
          whole.atHop,
          `${scenario.name}: ${size}-byte writes, same bytes at the hop`,
        );
      }
    }
  });
}
