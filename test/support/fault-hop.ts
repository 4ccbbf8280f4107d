/**
 * @module A scripted next hop for fault injection: a plaintext SMTP server whose answer at each
 * phase (greeting, EHLO, MAIL, RCPT, DATA, body, final dot) can be a reply, a 421 and close, a
 * crash (socket destroyed) or a stall; it keeps a ledger of every message it saw, whether the
 * terminating dot arrived, and the final reply it actually wrote.
 */
import { EventEmitter } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';

/** `other`: RSET, NOOP, QUIT and anything else. */
export type HopPhase = 'greeting' | 'ehlo' | 'mail' | 'rcpt' | 'data' | 'body' | 'dot' | 'other';

export type HopAction =
  /** Answer with these lines (CRLF-joined, without the final CRLF). */
  | { readonly kind: 'reply'; readonly text: string }
  /** Answer, then close the connection (RFC 5321 §3.8: a 421 ends the session). */
  | { readonly kind: 'reply-close'; readonly text: string }
  /** Crash: destroy the socket without a word. */
  | { readonly kind: 'destroy' }
  /** Never answer. */
  | { readonly kind: 'stall' }
  /** Answer when the promise resolves (the test decides when, e.g. after freezing the relay). */
  | { readonly kind: 'later'; readonly text: Promise<string> };

export interface HopContext {
  /** The connection's number, from 1. */
  readonly connection: number;
  /** The command line (without CRLF); for `body`, empty. */
  readonly line: string;
  /** The message in progress, for `body` and `dot`. */
  readonly message?: HopMessage;
}

/** What the hop saw of one message: from its 354 to its final reply (or the connection's end). */
export interface HopMessage {
  readonly connection: number;
  readonly rcpts: string[];
  /** Body bytes received so far, as on the wire (dot-stuffed, without the terminating dot). */
  body: Buffer;
  /** The Message-ID header of the body, once seen. */
  id: string | null;
  /** The terminating `.` arrived. */
  complete: boolean;
  /** The final reply written to the socket (flushed to the kernel), if any. */
  reply: string | null;
}

export interface FaultHop {
  readonly port: number;
  readonly messages: HopMessage[];
  /** Every command line, per connection. */
  readonly commands: string[][];
  readonly events: EventEmitter<HopEvents>;
  readonly openConnections: number;
  /** Messages whose reply was a 250: what the hop took responsibility for. */
  accepted(): HopMessage[];
  close(): Promise<void>;
}

/** `body`: a message got bytes; `dot`: it is complete, before its reply; `reply`: its final reply is written. */
export interface HopEvents {
  body: [HopMessage];
  dot: [HopMessage];
  reply: [HopMessage];
}

export type HopScript = (phase: HopPhase, ctx: HopContext) => HopAction | undefined;

const EHLO = ['fault-hop.test', '8BITMIME', 'SMTPUTF8', 'SIZE 100000000', 'PIPELINING'];

function messageId(body: Buffer): string | null {
  const m = /^Message-ID: <([^>\r\n]+)>/im.exec(body.toString('latin1'));
  return m?.[1] ?? null;
}

function defaultAction(phase: HopPhase, line: string, queued: number): HopAction {
  switch (phase) {
    case 'greeting':
      return { kind: 'reply', text: '220 fault-hop.test ESMTP' };
    case 'ehlo':
      return {
        kind: 'reply',
        text: EHLO.map((l, i) => `250${i === EHLO.length - 1 ? ' ' : '-'}${l}`).join('\r\n'),
      };
    case 'data':
      return { kind: 'reply', text: '354 go ahead' };
    case 'dot':
      return { kind: 'reply', text: `250 2.0.0 Ok: queued as H${queued}` };
    case 'body':
      return { kind: 'reply', text: '' };
    default: {
      const verb = line.split(' ')[0]?.toUpperCase() ?? '';
      if (verb === 'QUIT') return { kind: 'reply-close', text: '221 2.0.0 Bye' };
      if (['MAIL', 'RCPT', 'RSET', 'NOOP', 'HELO'].includes(verb))
        return { kind: 'reply', text: '250 2.0.0 Ok' };
      return { kind: 'reply', text: '502 5.5.2 Command not recognized' };
    }
  }
}

function phaseOf(line: string): HopPhase {
  const verb = line.split(' ')[0]?.toUpperCase() ?? '';
  if (verb === 'EHLO' || verb === 'HELO') return 'ehlo';
  if (verb === 'MAIL') return 'mail';
  if (verb === 'RCPT') return 'rcpt';
  if (verb === 'DATA') return 'data';
  return 'other';
}

export async function startFaultHop(script: HopScript = () => undefined): Promise<FaultHop> {
  const messages: HopMessage[] = [];
  const commands: string[][] = [];
  const events = new EventEmitter<HopEvents>();
  const sockets = new Set<Socket>();
  let connections = 0;
  let queued = 0;

  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    connections += 1;
    const connection = connections;
    const mine: string[] = [];
    commands.push(mine);
    let buffer = Buffer.alloc(0);
    let current: HopMessage | undefined;
    let rcpts: string[] = [];
    let stalled = false;
    /** Replies go out in command order even when one of them waits (`later`). */
    let queue: Promise<void> = Promise.resolve();

    const perform = (action: HopAction, onWritten?: (text: string) => void): void => {
      queue = queue.then(async () => {
        if (socket.destroyed || stalled) return;
        if (action.kind === 'destroy') {
          socket.destroy();
          return;
        }
        if (action.kind === 'stall') {
          stalled = true;
          return;
        }
        const text = action.kind === 'later' ? await action.text : action.text;
        if (text === '' || socket.destroyed) return;
        await new Promise<void>((resolve) => socket.write(`${text}\r\n`, () => resolve()));
        onWritten?.(text);
        if (action.kind === 'reply-close') socket.end();
      });
    };
    const act = (phase: HopPhase, line: string, message?: HopMessage): HopAction =>
      script(phase, { connection, line, ...(message ? { message } : {}) }) ??
      defaultAction(phase, line, queued + 1);

    perform(act('greeting', ''));
    socket.on('data', (chunk: Buffer) => {
      if (stalled) return;
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        if (current) {
          const message = current;
          const end = buffer.indexOf('\r\n.\r\n');
          const take = end < 0 ? Math.max(0, buffer.length - 4) : end + 2;
          if (take > 0) {
            message.body = Buffer.concat([message.body, buffer.subarray(0, take)]);
            message.id ??= messageId(message.body);
            buffer = buffer.subarray(take);
            events.emit('body', message);
            // A crash or stall mid-body happens now: nothing after this chunk is read.
            const action = script('body', { connection, line: '', message });
            if (action?.kind === 'destroy') {
              socket.destroy();
              return;
            }
            if (action?.kind === 'stall') {
              stalled = true;
              return;
            }
            if (action) perform(action);
          }
          if (end < 0) return;
          buffer = buffer.subarray(3);
          message.complete = true;
          current = undefined;
          events.emit('dot', message);
          const action = act('dot', '', message);
          if (action.kind === 'reply' || action.kind === 'later') queued += 1;
          perform(action, (text) => {
            message.reply = text;
            events.emit('reply', message);
          });
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.subarray(0, eol).toString('latin1');
        buffer = buffer.subarray(eol + 2);
        mine.push(line);
        const phase = phaseOf(line);
        const action = act(phase, line);
        const verb = line.split(' ')[0]?.toUpperCase() ?? '';
        if (verb === 'MAIL' || verb === 'RSET') rcpts = [];
        if (verb === 'RCPT' && action.kind === 'reply' && action.text.startsWith('250'))
          rcpts.push(line.slice(line.indexOf(':') + 1).trim());
        if (verb === 'DATA' && action.kind === 'reply' && action.text.startsWith('354')) {
          current = {
            connection,
            rcpts,
            body: Buffer.alloc(0),
            id: null,
            complete: false,
            reply: null,
          };
          messages.push(current);
          rcpts = [];
        }
        perform(action);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    messages,
    commands,
    events,
    get openConnections() {
      return sockets.size;
    },
    accepted: () => messages.filter((m) => m.reply?.startsWith('250') === true),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
