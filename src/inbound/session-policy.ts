/**
 * @module Pure per-listener session decisions: which commands a session may use (AUTH only after
 * TLS, RFC 4954 §4 and M3AAWG's third measure), and whether MAIL may start (RFC 3207 §4 TLS
 * required on submission listeners, RFC 6409 §4.3 authentication required there).
 */
import type { ListenerConfig } from '../config/schema.js';
import { replies } from '../smtp/replies.js';
import type { Reply } from '../smtp/reply.js';

/** smtp-server's sendmail jokes, never offered. */
const ALWAYS_DISABLED = ['WIZ', 'SHELL', 'KILL'] as const;

/**
 * The commands a session may not use. Before TLS, AUTH is neither advertised nor accepted on any
 * listener, so no password is ever read in clear; after TLS it is offered where configured.
 */
export function disabledCommands(
  listener: Pick<ListenerConfig, 'auth'>,
  secure: boolean,
): string[] {
  return listener.auth && secure ? [...ALWAYS_DISABLED] : [...ALWAYS_DISABLED, 'AUTH'];
}

/** Undefined when MAIL may proceed; else the reply refusing it (the session stays open). */
export function mayStartMail(
  listener: Pick<ListenerConfig, 'mode'>,
  session: { readonly secure: boolean; readonly authenticated: boolean },
): Reply | undefined {
  if (listener.mode === 'mta') return undefined;
  if (!session.secure) return replies.startTlsFirst;
  if (!session.authenticated) return replies.authRequired;
  return undefined;
}
