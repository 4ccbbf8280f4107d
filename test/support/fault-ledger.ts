/**
 * @module Both sides' books for fault injection: what each client saw for each message (by
 * Message-ID), checked against the next hop's ledger. Invariant 1 of DESIGN.md: no 250 to the
 * client unless the next hop wrote 250 for the same message; nothing the client aborted is
 * completed at the next hop.
 */
import type { Test } from 'tap';
import type { FaultHop } from './fault-hop.js';
import type { Prng } from './fuzz-prng.js';
import { SmtpDialogue } from './smtp-client.js';

export interface ClientView {
  /** Every reply line the client saw for this message, in order (last line of each reply). */
  readonly replies: string[];
  /** The reply to the end of data, when one came. */
  final: string | null;
  /** The client abandoned the message mid-DATA (its own crash). */
  aborted: boolean;
}

export class ClientLedger {
  readonly views = new Map<string, ClientView[]>();

  /** A new attempt at message `id` (a retry is a new attempt of the same id). */
  attempt(id: string): ClientView {
    const view: ClientView = { replies: [], final: null, aborted: false };
    const list = this.views.get(id) ?? [];
    list.push(view);
    this.views.set(id, list);
    return view;
  }

  /** Ids the client holds a 250 for. */
  delivered(): Set<string> {
    const ids = new Set<string>();
    for (const [id, list] of this.views)
      if (list.some((v) => v.final?.startsWith('250 ') === true)) ids.add(id);
    return ids;
  }
}

/** A message of about `size` bytes whose Message-ID is `id`, without the terminating dot. */
export function faultMessage(id: string, size: number, rng: Prng): string {
  const head = `From: <a@origin.test>\r\nTo: <b@dest.test>\r\nMessage-ID: <${id}>\r\nSubject: ${id}\r\n\r\n`;
  const lines: string[] = [];
  let length = head.length;
  while (length < size) {
    const line = `${id} ${rng.int(0, 1e9)} ${'z'.repeat(rng.int(0, 70))}`;
    lines.push(line);
    length += line.length + 2;
  }
  return `${head}${lines.join('\r\n')}\r\n`;
}

/** Connects, reads the greeting, STARTTLS, EHLO. */
export async function faultClient(t: Test, port: number): Promise<SmtpDialogue> {
  const c = await SmtpDialogue.connect(port);
  t.teardown(() => c.close());
  const greeting = await c.line();
  if (!greeting.startsWith('220 ')) throw new Error(`greeting: ${greeting}`);
  await c.startTls();
  return c;
}

/** Sends one command and records the reply; null when the connection closed instead. */
export async function step(
  c: SmtpDialogue,
  view: ClientView,
  command: string,
): Promise<string | null> {
  try {
    const line = await c.send(command);
    view.replies.push(line);
    return line;
  } catch {
    return null;
  }
}

/** One whole transaction (MAIL, RCPT, DATA, body, dot) for message `id`, recorded in `ledger`. */
export async function sendMessage(
  c: SmtpDialogue,
  ledger: ClientLedger,
  id: string,
  body: string,
  rcpt = 'b@dest.test',
): Promise<ClientView> {
  const view = ledger.attempt(id);
  const mail = await step(c, view, 'MAIL FROM:<a@origin.test>');
  if (mail !== '250 Accepted') return view;
  const accepted = await step(c, view, `RCPT TO:<${rcpt}>`);
  if (accepted !== '250 Accepted') {
    await step(c, view, 'RSET');
    return view;
  }
  if ((await step(c, view, 'DATA')) !== '354 End data with <CR><LF>.<CR><LF>') return view;
  view.final = await step(c, view, `${body}.`);
  return view;
}

/**
 * The invariant, checked message by message: every 250 the client holds matches a message the
 * hop completed and answered with that very 250 (the queue id makes it exact); every message a
 * client aborted never got its terminating dot at the hop.
 */
export function checkLedger(t: Test, ledger: ClientLedger, hop: FaultHop): void {
  const violations: string[] = [];
  for (const [id, list] of ledger.views) {
    for (const view of list) {
      if (view.final?.startsWith('250 ') === true) {
        const match = hop.messages.find((m) => m.reply === view.final && m.id === id && m.complete);
        if (!match) violations.push(`${id}: client got "${view.final}", the hop never said it`);
      }
      if (view.aborted) {
        for (const m of hop.messages.filter((m) => m.id === id && m.complete))
          violations.push(`${id}: aborted by the client, completed at the hop (${m.reply ?? ''})`);
      }
    }
  }
  t.same(violations, [], 'zero 250-without-next-hop-250, no aborted message completed');
}
