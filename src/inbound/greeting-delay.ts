/**
 * @module The pause before a listener's 220 greeting (the early-talker check), chosen per
 * listener instead of smtp-server's fixed 100 ms: an override of one timing in smtp-server
 * 3.21.6's connection setup, pinned by the canaries in test/unit/inbound/greeting-delay.test.ts.
 */
import type { SMTPServer } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection';

/** smtp-server 3.21.6's own pause (SMTPConnection.init). */
export const LIBRARY_GREETING_DELAY_MS = 100;

/**
 * The default per listener mode. A client must wait for the greeting before it speaks (RFC 5321
 * §3.1, §4.3.1; RFC 2920 §3.1 allows no pipelining before it), and bulk senders that do not are
 * a long-standing spam signal: on a public port-25 (mta) listener the library's 100 ms pause
 * lets smtp-server answer such an early talker `421 You talk too soon`. On submission ports
 * every client authenticates before it may send (RFC 6409 §4.1), so the pause only adds
 * latency to every connection: 0 there.
 */
export function defaultGreetingDelayMs(mode: 'mta' | 'submission' | 'submissions'): number {
  return mode === 'mta' ? LIBRARY_GREETING_DELAY_MS : 0;
}

/**
 * SMTPConnection.init of smtp-server 3.21.6 with `delayMs` in place of its literal 100: the
 * listeners, the connection limit check, then the pause (none for 0) before connectionReady.
 */
function initWithDelay(connection: SMTPConnection, delayMs: number): void {
  connection._setListeners(() => {
    const { options, connections } = connection._server;
    if (options.maxClients && connections.size > options.maxClients) {
      connection.send(
        421,
        `${connection.name} Too many connected clients, try again in a moment`,
        false,
      );
      return;
    }
    // 0: the next turn of the event loop, so that whatever wraps SMTPServer.connect after us
    // (connection-guard.ts) has hooked the connection before it greets.
    if (delayMs <= 0) setImmediate(() => connection.connectionReady()).unref();
    else setTimeout(() => connection.connectionReady(), delayMs).unref();
  });
}

/**
 * Makes `server` greet after `delayMs` (0: as soon as the connection is set up). Leaves the
 * library's behaviour alone when `delayMs` is its own 100 ms. Replaces SMTPServer.connect with
 * the same four steps as 3.21.6's (create, track, forward events, init), the last one ours.
 */
export function setGreetingDelay(server: SMTPServer, delayMs: number): void {
  if (delayMs === LIBRARY_GREETING_DELAY_MS) return;
  server.connect = (socket, socketOptions) => {
    const connection = new SMTPConnection(server, socket, socketOptions);
    server.connections.add(connection);
    connection.on('error', (err: Error) => server._onError(err));
    connection.on('connect', (data: Parameters<SMTPServer['_onClientConnect']>[0]) =>
      server._onClientConnect(data),
    );
    initWithDelay(connection, delayMs);
  };
}
