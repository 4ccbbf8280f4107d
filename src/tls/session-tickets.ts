/**
 * @module Inbound TLS session resumption: session tickets sealed with a key that rotates on a
 * timer, so a returning client skips the certificate signature and key exchange of a full
 * handshake without the ticket key becoming a long-lived secret.
 */
import { randomBytes } from 'node:crypto';
import type { SMTPServer } from 'smtp-server';

/** Default rotation: a client that comes back within the hour resumes. */
export const TICKET_KEY_ROTATION_MS = 3_600_000;

/** Node's ticket key: 16 bytes of key name, 16 of HMAC secret, 16 of AES key. */
const TICKET_KEY_BYTES = 48;

export interface TicketKeyRotation {
  /** Rotations since start (0: the first key is in use). */
  readonly rotations: number;
  /** Replaces the ticket key now: every ticket sealed before no longer resumes. */
  rotate(): void;
  stop(): void;
}

const rotations = new WeakMap<SMTPServer, TicketKeyRotation>();

/** The rotation running on `server`, if any (for operators' tooling and tests). */
export function ticketKeyRotation(server: SMTPServer): TicketKeyRotation | undefined {
  return rotations.get(server);
}

/**
 * Seals the session tickets of `server` (STARTTLS and implicit TLS) with a fresh random key now
 * and every `intervalMs`; stops when the server closes.
 *
 * Why rotate: a TLS 1.2 ticket carries the session's master secret and a TLS 1.3 ticket its
 * resumption secret, encrypted under the ticket key (RFC 5077 §4, RFC 8446 §4.6.1). Whoever
 * obtains the key can decrypt every recorded session whose ticket it sealed, so a key that never
 * changes undoes the forward secrecy the ECDHE exchange gave (RFC 5077 §5.5, RFC 8446 §2.2 and
 * §E.1.3; RFC 9325 §3.4 asks for keys changed "frequently"). Rotating and forgetting the old key
 * bounds that exposure to one interval. In TLS 1.3 a resumption still runs a fresh (EC)DHE
 * exchange (`psk_dhe_ke`, the only mode OpenSSL's server accepts by default).
 *
 * Node holds one ticket key per secure context (`ticketKeys`, 48 bytes, in
 * `tls.createSecureContext`); it cannot keep the previous key for decryption only. So the
 * retention window equals the interval: a ticket from just before a rotation costs one full
 * handshake afterwards, and OpenSSL refuses tickets older than `sessionTimeout`, set to the
 * interval as well. smtp-server builds its contexts from its options (`updateSecureContext`
 * merges into them), so the key survives a certificate reload until the next rotation.
 */
export function rotateTicketKeys(
  server: SMTPServer,
  intervalMs: number = TICKET_KEY_ROTATION_MS,
): TicketKeyRotation {
  rotations.get(server)?.stop();
  const sessionTimeout = Math.max(1, Math.ceil(intervalMs / 1000));
  let count = 0;
  const apply = (): void => {
    server.updateSecureContext({ ticketKeys: newTicketKey(), sessionTimeout });
  };
  apply();
  const timer = setInterval(() => handle.rotate(), intervalMs);
  timer.unref();
  const onClose = (): void => handle.stop();
  const handle: TicketKeyRotation = {
    get rotations() {
      return count;
    },
    rotate() {
      apply();
      count += 1;
    },
    stop() {
      clearInterval(timer);
      server.server.off('close', onClose);
      if (rotations.get(server) === handle) rotations.delete(server);
    },
  };
  server.server.once('close', onClose);
  rotations.set(server, handle);
  return handle;
}

/** A fresh ticket key (what `rotateTicketKeys` draws each interval). */
export function newTicketKey(): Buffer {
  return randomBytes(TICKET_KEY_BYTES);
}

/**
 * Seals the tickets of `server` with `key` from now on, instead of its own rotation: worker
 * processes sharing the listeners take the key the primary draws every `intervalMs`, so a
 * client resumes whichever worker its next connection reaches (src/cluster). Same forward
 * secrecy as `rotateTicketKeys`: the key lives one interval and is never derived from another.
 */
export function useTicketKey(server: SMTPServer, key: Buffer, intervalMs: number): void {
  rotations.get(server)?.stop();
  if (key.length !== TICKET_KEY_BYTES) throw new Error(`ticket key: ${key.length} bytes, not 48`);
  server.updateSecureContext({
    ticketKeys: key,
    sessionTimeout: Math.max(1, Math.ceil(intervalMs / 1000)),
  });
}
