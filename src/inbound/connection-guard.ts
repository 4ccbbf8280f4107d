/**
 * @module Inbound hardening on one smtp-server instance, through the internals in
 * smtp-internals.ts: connection rate at connect, then per connection the command guard (CR in a
 * command, line length, unknown commands, error and junk budgets, unauthorised pipelining
 * RFC 2920 §3.1, STARTTLS rate) and the slow-peer deadlines. Every refusal is counted.
 */
import type { Socket } from 'node:net';
import type { SMTPServer, SMTPServerSession } from 'smtp-server';
import type { Config } from '../config/schema.js';
import { replies, tooManyConnectionsFrom, tooManyTlsSessionsFrom } from '../smtp/replies.js';
import type { Reply } from '../smtp/reply.js';
import { toServerError } from '../smtp/server-reply.js';
import type { InboundTimeout, InboundViolation, Metrics } from '../telemetry/metrics.js';
import { AddressRate } from './address-rate.js';
import { CommandBudget, commandName } from './command-budget.js';
import { scanDataWithIndexOf } from './data-scanner.js';
import { feedLineByLine, type LineFeeder } from './line-feeder.js';
import { NetworkSet } from './networks.js';
import { SlowPeer } from './slow-peer.js';
import {
  serverInternals,
  type ConnectionInternals,
  type ParserInternals,
} from './smtp-internals.js';

export type InboundLimits = Config['limits'];

/** Shared by every listener: the rates are per client address across the whole relay. */
export interface InboundHardening {
  readonly limits: InboundLimits;
  readonly connectionRate: AddressRate;
  readonly tlsRate: AddressRate;
  /** Exempt from both rates; Postfix exempts $mynetworks from anvil's limits the same way. */
  readonly rateExempt: NetworkSet;
}

export function inboundHardening(
  limits: InboundLimits,
  allowedNetworks: readonly string[],
): InboundHardening {
  return {
    limits,
    connectionRate: new AddressRate(limits.connectionRatePerMinute),
    tlsRate: new AddressRate(limits.tlsHandshakeRatePerMinute),
    rateExempt: new NetworkSet(limits.rateExempt ?? allowedNetworks),
  };
}

/** smtp-server answers these itself with 421 (cross-protocol requests, ALPACA). */
const HTTP_REQUEST = /^(OPTIONS|GET|HEAD|POST|PUT|DELETE|TRACE|CONNECT) \/.* HTTP\/\d\.\d$/i;

export function guardConnections(
  server: SMTPServer,
  hardening: InboundHardening,
  listener: string,
  metrics: Metrics,
  /** A command that resets the SMTP transaction is about to run on `session`. */
  onReset?: (session: SMTPServerSession) => void,
): void {
  const internals = serverInternals(server);
  const onConnect = internals.onConnect.bind(server);
  internals.onConnect = (session, callback) => {
    const address = session.remoteAddress;
    if (!hardening.rateExempt.contains(address) && !hardening.connectionRate.allow(address)) {
      metrics.inboundConnections.inc({ listener });
      metrics.sessionsRefused.inc({ listener, reason: 'connection_rate' });
      callback(toServerError(tooManyConnectionsFrom(address)));
      return;
    }
    onConnect(session, callback);
  };
  const connect = internals.connect.bind(server);
  internals.connect = (socket: Socket, options: unknown) => {
    connect(socket, options);
    for (const connection of internals.connections) {
      if (connection._socket === socket) {
        guardConnection(connection, hardening, listener, metrics, onReset);
      }
    }
  };
}

function guardConnection(
  conn: ConnectionInternals,
  hardening: InboundHardening,
  listener: string,
  metrics: Metrics,
  onReset?: (session: SMTPServerSession) => void,
): void {
  const { limits } = hardening;
  const budget = new CommandBudget(limits);
  const violation = (kind: InboundViolation): void =>
    metrics.inboundProtocolViolations.inc({ listener, kind });
  const rawSend = conn.send.bind(conn);
  const answer = (r: Reply): void => rawSend(r.code, r.lines[0] ?? '', false);

  const slow = new SlowPeer(
    limits,
    () => Boolean(conn._parser && conn._parser._dataMode),
    (kind: InboundTimeout) => {
      if (conn._closed) return;
      metrics.inboundTimeouts.inc({ listener, kind });
      if (kind === 'tls_handshake') {
        // RFC 3207 §4.2: no SMTP text inside a handshake; the connection just goes.
        if (conn._upgrading) conn._socket.destroy();
        return;
      }
      if (conn._closing) return;
      const reply =
        kind === 'command'
          ? replies.commandTimeout
          : kind === 'data_rate'
            ? replies.dataTooSlow
            : replies.sessionTooLong;
      answer(reply);
    },
  );
  conn._socket.once('close', () => slow.stop());

  let feeder: LineFeeder | undefined;
  const install = (parser: ParserInternals): void => {
    scanDataWithIndexOf(parser);
    feeder = feedLineByLine(parser, limits.maxCommandLength, () => conn._socket.readableLength, {
      lineStarted: () => slow.lineStarted(),
      lineEnded: () => slow.lineEnded(),
      dataBytes: (n) => slow.dataBytes(n),
      heldBack: () => slow.heldBack(),
      released: () => slow.released(),
    });
  };
  if (conn._parser) install(conn._parser);
  const createParser = conn._createParser.bind(conn);
  conn._createParser = () => {
    const parser = createParser();
    install(parser);
    return parser;
  };

  // Replies: the idle timeout gets its enhanced code, protocol errors spend the error budget.
  let idleFiring = false;
  let awaitingFinal = false;
  conn.send = (code, data, context) => {
    if (idleFiring && code === 421) {
      metrics.inboundTimeouts.inc({ listener, kind: 'idle' });
      answer(replies.idleTimeout);
      return;
    }
    rawSend(code, data, context);
    if (code === 354) {
      awaitingFinal = true;
      return;
    }
    if (awaitingFinal) {
      awaitingFinal = false;
      if (code < 300) budget.delivered();
    }
    if (budget.replied(code) && !conn._closing) {
      violation('too_many_errors');
      answer(replies.tooManyErrors);
    }
  };
  const onTimeout = conn._onTimeout.bind(conn);
  conn._onTimeout = () => {
    idleFiring = true;
    try {
      onTimeout();
    } finally {
      idleFiring = false;
    }
  };

  const upgrade = conn.upgrade.bind(conn);
  conn.upgrade = (callback, secureCallback) => {
    slow.handshakeStarted();
    upgrade(callback, () => {
      slow.handshakeDone();
      secureCallback?.();
    });
  };

  let afterRejectedData = false;
  const onCommand = conn._onCommand.bind(conn);
  conn._onCommand = (command, callback) => {
    const next = callback ?? (() => undefined);
    const later = (): void => {
      setImmediate(() => conn._whenWritable(next));
    };
    // Cases smtp-server handles itself: TLS upgrade in progress, closing, early talkers,
    // SASL continuation lines, cross-protocol HTTP requests.
    if (
      conn._upgrading ||
      conn._closing ||
      !conn._ready ||
      !conn._parser ||
      conn._nextHandler ||
      HTTP_REQUEST.test(command.toString('latin1'))
    ) {
      onCommand(command, callback);
      return;
    }
    const name = commandName(command);
    const known = conn._isSupported(name);
    // After a rejected DATA the client's next line should be a command; message text here means
    // a client that did not wait for the reply, whose body now runs as commands (SM-06).
    if (afterRejectedData) {
      afterRejectedData = false;
      if (!known) {
        violation('unauthorized_pipelining');
        answer(replies.unauthorizedPipelining);
        conn.close();
        return;
      }
    }
    const verdict = budget.check(command, known);
    if (verdict.kind !== 'run') {
      violation(verdict.violation);
      // Through the hook, so that these refusals spend the error budget too.
      conn.send(verdict.reply.code, verdict.reply.lines[0] ?? '', false);
      if (verdict.kind === 'refuse') later();
      return;
    }
    if (name === 'DATA') {
      // RFC 2920 §3.1: DATA ends a pipelined group; nothing may follow before our reply.
      if (feeder?.pendingInput()) {
        violation('unauthorized_pipelining');
        answer(replies.unauthorizedPipelining);
        conn.close();
        return;
      }
      onCommand(command, callback);
      if (conn._dataStream) slow.dataStarted();
      else if (!conn._closing) afterRejectedData = true;
      return;
    }
    if (name === 'STARTTLS' && !conn.secure && command.length === 'STARTTLS'.length) {
      const address = conn.remoteAddress;
      if (!hardening.rateExempt.contains(address) && !hardening.tlsRate.allow(address)) {
        metrics.inboundStartTlsRefused.inc({ listener, reason: 'tls_rate' });
        answer(tooManyTlsSessionsFrom(address));
        later();
        return;
      }
    }
    // RFC 5321 §4.1.4: these end any open transaction.
    if (name === 'RSET' || name === 'EHLO' || name === 'HELO') onReset?.(conn.session);
    onCommand(command, callback);
  };
}
