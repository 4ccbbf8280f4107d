/**
 * @module Runs one fuzz case against a listener in lockstep and checks the inbound invariants:
 * every complete command line (bytes up to a LF) gets exactly one reply, in time; a 354 is
 * followed by the body and its one final reply; STARTTLS's 220 by a real handshake; a 421, 221 or
 * 554 5.5.0 by the close; and nothing answers what was never asked.
 */
import { dataBytes, type FuzzCase } from './fuzz-corpus.js';
import { SmtpDialogue } from './smtp-client.js';

/** Longer than any reply can take on a loaded machine: reaching it means the relay hung. */
const REPLY_DEADLINE_MS = 10_000;

export interface CaseOutcome {
  /** Every command line sent (as JSON strings, for the report) and its reply. */
  readonly transcript: string[];
  readonly violations: string[];
}

type Next =
  { readonly kind: 'reply'; readonly lines: string[] } | { readonly kind: 'closed' | 'timeout' };

async function nextReply(c: SmtpDialogue, ms: number): Promise<Next> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Next>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timeout' }), ms);
  });
  const reply = c.reply().then(
    (lines): Next => ({ kind: 'reply', lines }),
    (): Next => ({ kind: 'closed' }),
  );
  try {
    return await Promise.race([reply, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Splits bytes into complete lines: each ends at a LF (a bare LF ends a line for the server too). */
function completeLines(bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < bytes.length; i += 1) {
    if (bytes[i] === 0x0a) {
      out.push(bytes.subarray(start, i + 1));
      start = i + 1;
    }
  }
  return out;
}

export async function runCase(port: number, fuzz: FuzzCase): Promise<CaseOutcome> {
  const transcript: string[] = [];
  const violations: string[] = [];
  const c = await SmtpDialogue.connect(port);
  try {
    const greeting = await nextReply(c, REPLY_DEADLINE_MS);
    if (greeting.kind !== 'reply')
      return { transcript, violations: [`greeting: ${greeting.kind}`] };
    const bodies = [...fuzz.bodies];
    let closedByServer = false;
    const lines = fuzz.lines.flatMap(completeLines);
    for (const line of lines) {
      const shown = JSON.stringify(line.toString('latin1').slice(0, 80));
      c.write(line);
      let r = await nextReply(c, REPLY_DEADLINE_MS);
      if (r.kind !== 'reply') {
        violations.push(
          `${shown}: ${r.kind === 'timeout' ? 'no reply (hang)' : 'closed without a reply'}`,
        );
        closedByServer = r.kind === 'closed';
        break;
      }
      let last = r.lines[r.lines.length - 1] ?? '';
      transcript.push(`${shown} → ${last}`);
      if (last.startsWith('354')) {
        const body = bodies.shift() ?? Buffer.from('\r\n');
        c.write(dataBytes(body));
        r = await nextReply(c, REPLY_DEADLINE_MS);
        if (r.kind !== 'reply') {
          violations.push(
            `end of data: ${r.kind === 'timeout' ? 'no reply (hang)' : 'closed without a reply'}`,
          );
          closedByServer = r.kind === 'closed';
          break;
        }
        last = r.lines[r.lines.length - 1] ?? '';
        transcript.push(`<body ${body.length} bytes> → ${last}`);
      } else if (last.startsWith('220') && /^STARTTLS\s*$/i.test(line.toString('latin1'))) {
        await c.upgradeRaw();
      }
      // Replies after which the server closes: 421 and 221 (RFC 5321 §3.8, §4.1.1.10), and the
      // 554 5.5.0 for a client out of step (src/inbound/connection-guard.ts).
      if (/^(421|221)[ -]|^554 5\.5\.0 /.test(last)) {
        closedByServer = true;
        await Promise.race([c.waitClosed(), new Promise((r) => setTimeout(r, REPLY_DEADLINE_MS))]);
        if (!c.closed) violations.push(`${last}: the connection stayed open`);
        break;
      }
    }
    if (!closedByServer) {
      // Nothing may answer what was never asked.
      const extra = await nextReply(c, 150);
      if (extra.kind === 'reply') violations.push(`unrequested reply: ${extra.lines.join(' / ')}`);
    }
  } catch (err) {
    violations.push(`client error: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    c.close();
  }
  return { transcript, violations };
}
