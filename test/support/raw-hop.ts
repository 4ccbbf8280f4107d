/**
 * @module A plaintext next hop written line by line: records every command byte for byte, so a
 * test can assert the exact wire form the relay sends (A-labels, parameters, RSET, dot-stuffing).
 */
import { createServer, type AddressInfo, type Socket } from 'node:net';

export interface RawHop {
  readonly port: number;
  /** Every command line received, per connection, without CRLF. */
  readonly commands: string[][];
  /** Raw DATA payloads (dot-stuffed, as on the wire, up to and excluding the final `.`). */
  readonly bodies: Buffer[];
  /** Connections still open now. */
  readonly openConnections: number;
  /** With holdMailMs: the bytes already received behind each MAIL when it was answered. */
  readonly behindMail: string[];
  close(): Promise<void>;
}

export interface RawHopOptions {
  readonly ehlo?: readonly string[];
  /** A reply (full lines, CRLF-joined without the final CRLF) for commands starting with the key. */
  readonly replies?: Readonly<Record<string, string>>;
  /** Answer DATA with 354 only after this long: a slow next hop. */
  readonly dataDelayMs?: number;
  /** Answer MAIL (250) only after this long, reading nothing meanwhile. */
  readonly holdMailMs?: number;
  /** Answer EHLO only after this long. */
  readonly ehloDelayMs?: number;
  /** Close the connection right after replying to a command starting with this. */
  readonly closeAfter?: string;
  /** Send this reply as soon as body bytes arrive, before the end of data. */
  readonly earlyDataReply?: string;
  /**
   * With earlyDataReply: stop reading when the body starts, send the early reply half-way
   * through this pause, and read on (answering the dot too) after it.
   */
  readonly earlyDataPauseMs?: number;
  /** Refuse a message holding a line longer than `octets` (CRLF included) with `reply`. */
  readonly lineLimit?: { readonly octets: number; readonly reply: string };
}

/** Whether some CRLF-ended line of `body` is longer than `octets`, its CRLF included. */
function hasLongLine(body: Buffer, octets: number): boolean {
  let start = 0;
  for (let end = body.indexOf('\r\n'); end !== -1; end = body.indexOf('\r\n', start)) {
    if (end + 2 - start > octets) return true;
    start = end + 2;
  }
  return body.length - start > octets;
}

const DEFAULT_EHLO = ['raw.test', '8BITMIME', 'SMTPUTF8', 'SIZE 10000000', 'PIPELINING'];

export async function startRawHop(opts: RawHopOptions = {}): Promise<RawHop> {
  const commands: string[][] = [];
  const bodies: Buffer[] = [];
  const behindMail: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const mine: string[] = [];
    commands.push(mine);
    let buffer = Buffer.alloc(0);
    let inData = false;
    let earlySent = false;
    const send = (text: string): void => {
      socket.write(`${text}\r\n`);
    };
    send('220 raw.test ESMTP');
    /** Stopped reading (earlyDataPauseMs): nothing received is looked at until it resumes. */
    let paused = false;
    const consume = (): void => {
      for (;;) {
        if (paused) return;
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (opts.earlyDataReply !== undefined && buffer.length > 0 && !earlySent) {
            earlySent = true;
            const early = opts.earlyDataReply;
            const pause = opts.earlyDataPauseMs;
            if (pause === undefined) send(early);
            else {
              paused = true;
              socket.pause();
              setTimeout(() => send(early), pause / 2);
              setTimeout(() => {
                paused = false;
                socket.resume();
                consume();
              }, pause);
              return;
            }
          }
          if (end < 0) return;
          const body = buffer.subarray(0, end + 2);
          bodies.push(body);
          buffer = buffer.subarray(end + 5);
          inData = false;
          if (opts.lineLimit !== undefined && hasLongLine(body, opts.lineLimit.octets))
            send(opts.lineLimit.reply);
          else send(opts.replies?.['.'] ?? '250 2.0.0 Ok: queued');
          continue;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.subarray(0, eol).toString('utf8');
        buffer = buffer.subarray(eol + 2);
        mine.push(line);
        const verb = line.split(' ')[0]?.toUpperCase() ?? '';
        const custom = Object.entries(opts.replies ?? {}).find(
          ([k]) => k !== '.' && line.toUpperCase().startsWith(k.toUpperCase()),
        );
        if (custom) {
          send(custom[1]);
          if (custom[1].startsWith('421')) socket.end();
          continue;
        }
        const hold = opts.holdMailMs;
        if (verb === 'MAIL' && hold !== undefined) {
          paused = true;
          setTimeout(() => {
            behindMail.push(buffer.toString('latin1'));
            send('250 2.0.0 Ok');
            paused = false;
            consume();
          }, hold);
          return;
        }
        if (verb === 'EHLO') {
          const ehlo = opts.ehlo ?? DEFAULT_EHLO;
          const answer = (): void =>
            ehlo.forEach((l, i) => send(`250${i === ehlo.length - 1 ? ' ' : '-'}${l}`));
          if (opts.ehloDelayMs === undefined) answer();
          else setTimeout(answer, opts.ehloDelayMs);
        } else if (verb === 'DATA') {
          inData = true;
          if (opts.dataDelayMs === undefined) send('354 go ahead');
          else setTimeout(() => send('354 go ahead'), opts.dataDelayMs);
        } else if (verb === 'QUIT') {
          send('221 2.0.0 Bye');
          socket.end();
        } else if (
          verb === 'MAIL' ||
          verb === 'RCPT' ||
          verb === 'RSET' ||
          verb === 'NOOP' ||
          verb === 'HELO'
        ) {
          send('250 2.0.0 Ok');
        } else {
          send('502 5.5.2 Command not recognized');
        }
        if (
          opts.closeAfter !== undefined &&
          line.toUpperCase().startsWith(opts.closeAfter.toUpperCase())
        )
          socket.end();
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      consume();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    commands,
    bodies,
    behindMail,
    get openConnections() {
      return sockets.size;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
