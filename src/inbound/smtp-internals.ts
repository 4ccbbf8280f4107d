/**
 * @module The smtp-server 3.21.6 internals the inbound hardening relies on, typed in one place:
 * its per-connection object (SMTPConnection), its command parser (SMTPStream) and the server's
 * connect(). test/unit/inbound/smtp-server-internals.test.ts pins every name used here.
 */
import type { Socket } from 'node:net';
import type { SMTPServer, SMTPServerSession } from 'smtp-server';
import type { DataModeInternals } from './data-scanner.js';

/** The line parser: command mode splits on LF (RFC 5321 §2.3.8 wants CRLF), data mode streams. */
export interface ParserInternals extends DataModeInternals {
  _write(chunk: Buffer, encoding: BufferEncoding, next: (err?: Error | null) => void): void;
  _dataMode: boolean;
  isClosed: boolean;
  readonly writableLength: number;
}

/** One client connection of smtp-server. */
export interface ConnectionInternals {
  readonly session: SMTPServerSession;
  readonly remoteAddress: string;
  readonly secure: boolean;
  _socket: Socket;
  _parser: ParserInternals | false;
  _ready: boolean;
  _upgrading: boolean;
  _closing: boolean;
  _closed: boolean;
  _nextHandler: unknown;
  _dataStream: unknown;
  _createParser(): ParserInternals;
  _onCommand(command: Buffer, callback?: () => void): void;
  _onTimeout(): void;
  _whenWritable(next: () => void): void;
  _isSupported(command: string): boolean;
  upgrade(callback: () => void, secureCallback?: () => void): void;
  /** Writes one reply; `context` false means no enhanced code is added. A 421 also closes. */
  send(code: number, data: string | string[], context?: string | false): void;
  close(): void;
}

export interface ServerInternals {
  connect(socket: Socket, socketOptions: unknown): void;
  readonly connections: Set<ConnectionInternals>;
  onConnect(session: SMTPServerSession, callback: (err?: Error | null) => void): void;
}

export function serverInternals(server: SMTPServer): ServerInternals {
  return server;
}
