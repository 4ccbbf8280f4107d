/**
 * The load generator: long-lived sessions (STARTTLS or plaintext) each sending its share of
 * messages in lockstep, or a new connection and handshake per message.
 */
import { performance } from 'node:perf_hooks';
import { SmtpWire } from './smtp-wire.js';

export interface Session {
  readonly wire: SmtpWire;
  /** Connect → ready for MAIL: greeting (incl. smtp-server's 100 ms pause), EHLO, STARTTLS, EHLO. */
  readonly setupMs: number;
  /** The warm-up message (for the relay: includes opening its next-hop session). */
  readonly coldMs: number;
}

export interface LoadResult {
  /** Per-message latency, MAIL sent → final 250 received, in milliseconds. */
  readonly latenciesMs: Float64Array;
  /** First MAIL of any session → last final reply. */
  readonly elapsedMs: number;
}

/**
 * What follows DATA: a message of about `size` bytes (headers, 76-column body lines, no leading
 * dots) and the terminating `.` line, so that each message is one write.
 */
export function buildMessage(size: number): Buffer {
  const head =
    'From: <bench@client.test>\r\nTo: <sink@sink.test>\r\nSubject: bench\r\n' +
    'Message-ID: <bench@client.test>\r\n\r\n';
  const line = `${'x'.repeat(76)}\r\n`;
  let body = '';
  while (head.length + body.length + line.length <= size) body += line;
  const rest = size - head.length - body.length;
  if (rest > 2) body += `${'y'.repeat(rest - 2)}\r\n`;
  return Buffer.from(`${head}${body}.\r\n`, 'latin1');
}

async function sendOne(wire: SmtpWire, message: Buffer): Promise<number> {
  const t0 = performance.now();
  await wire.exchange('MAIL FROM:<bench@client.test>\r\n', 250);
  await wire.exchange('RCPT TO:<sink@sink.test>\r\n', 250);
  await wire.exchange('DATA\r\n', 354);
  await wire.exchange(message, 250);
  return performance.now() - t0;
}

export interface SessionOptions {
  /** STARTTLS after the first EHLO (default true). */
  readonly tls?: boolean;
  /** Send one warm-up message once set up (default true); `coldMs` is 0 without. */
  readonly warmUp?: boolean;
}

/** Connect, greeting, EHLO, and with `tls` STARTTLS and EHLO again: ready for MAIL. */
async function greet(port: number, tls: boolean): Promise<SmtpWire> {
  const wire = await SmtpWire.connect(port);
  try {
    const greeting = await wire.reply();
    if (greeting.code !== 220) throw new Error(`greeting: ${greeting.text}`);
    await wire.exchange('EHLO client.test\r\n', 250);
    if (tls) {
      await wire.exchange('STARTTLS\r\n', 220);
      await wire.upgrade();
      await wire.exchange('EHLO client.test\r\n', 250);
    }
    return wire;
  } catch (err) {
    wire.close();
    throw err;
  }
}

async function openSession(
  port: number,
  message: Buffer,
  options: SessionOptions = {},
): Promise<Session> {
  const t0 = performance.now();
  const wire = await greet(port, options.tls ?? true);
  try {
    const setupMs = performance.now() - t0;
    const coldMs = options.warmUp === false ? 0 : await sendOne(wire, message);
    return { wire, setupMs, coldMs };
  } catch (err) {
    wire.close();
    throw err;
  }
}

/**
 * Opens `count` sessions, at most `parallel` being set up at a time (default: all at once), and
 * sends one warm-up message on each unless told not to.
 */
export async function openSessions(
  port: number,
  count: number,
  message: Buffer,
  options: SessionOptions & { readonly parallel?: number } = {},
): Promise<Session[]> {
  const parallel = Math.min(count, options.parallel ?? count);
  const settled: Array<PromiseSettledResult<Session>> = [];
  let started = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (started < count) {
        started += 1;
        const [result] = await Promise.allSettled([openSession(port, message, options)]);
        if (result) settled.push(result);
      }
    }),
  );
  const sessions = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) {
    await closeSessions(sessions);
    throw failed.reason;
  }
  return sessions;
}

/** Sends `total` messages spread evenly over the sessions, each session one message at a time. */
export async function sendLoad(
  sessions: readonly Session[],
  total: number,
  message: Buffer,
): Promise<LoadResult> {
  const latencies = new Float64Array(total);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    sessions.map(async (s, i) => {
      const share = Math.floor(total / sessions.length) + (i < total % sessions.length ? 1 : 0);
      for (let k = 0; k < share; k += 1) {
        latencies[next++] = await sendOne(s.wire, message);
      }
    }),
  );
  return { latenciesMs: latencies, elapsedMs: performance.now() - t0 };
}

/** Every session sends one message at the same time; per-message latency MAIL → 250. */
export async function sendOneEach(
  sessions: readonly Session[],
  message: Buffer,
): Promise<LoadResult> {
  const t0 = performance.now();
  const latencies = await Promise.all(sessions.map((s) => sendOne(s.wire, message)));
  return { latenciesMs: Float64Array.from(latencies), elapsedMs: performance.now() - t0 };
}

/**
 * `total` messages from `clients` concurrent clients, each message on a new connection with its
 * own handshake (connect, greeting, EHLO, STARTTLS, EHLO, MAIL, RCPT, DATA, QUIT); latency is
 * connect → final 250.
 */
export async function sendFresh(
  port: number,
  total: number,
  clients: number,
  message: Buffer,
  tls = true,
): Promise<LoadResult> {
  const latencies = new Float64Array(total);
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(clients, total) }, async () => {
      while (next < total) {
        const i = next++;
        const start = performance.now();
        const wire = await greet(port, tls);
        try {
          await sendOne(wire, message);
          latencies[i] = performance.now() - start;
          await wire.exchange('QUIT\r\n', 221);
        } finally {
          wire.close();
        }
      }
    }),
  );
  return { latenciesMs: latencies, elapsedMs: performance.now() - t0 };
}

/** QUIT and close every session; resolves once each said goodbye or failed. */
export async function closeSessions(sessions: readonly Session[]): Promise<void> {
  await Promise.allSettled(
    sessions.map((s) => s.wire.exchange('QUIT\r\n', 221).finally(() => s.wire.close())),
  );
}
