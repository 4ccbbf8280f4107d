/**
 * @module The messages between the primary and its worker processes over the cluster IPC
 * channel (prom-client's metric requests travel on the same channel with their own types).
 */

export type ToWorker =
  /** Seal and open inbound session tickets with this key (48 bytes, base64) from now on. */
  | {
      readonly type: 'starttls-relay:ticket-key';
      readonly key: string;
      readonly intervalMs: number;
    }
  /** SIGHUP reached the primary: load the certificate again. */
  | { readonly type: 'starttls-relay:reload' }
  /** Stop accepting, let open transactions finish within `drainMs`, then exit. */
  | { readonly type: 'starttls-relay:stop'; readonly drainMs: number };

export type FromWorker =
  /** Every listener is bound (name → port): the worker serves. */
  | { readonly type: 'starttls-relay:ready'; readonly ports: Readonly<Record<string, number>> }
  /** Whether the worker would pass /readyz now (certificate still valid, not draining). */
  | { readonly type: 'starttls-relay:readiness'; readonly ready: boolean };

const TO_WORKER = new Set([
  'starttls-relay:ticket-key',
  'starttls-relay:reload',
  'starttls-relay:stop',
]);
const FROM_WORKER = new Set(['starttls-relay:ready', 'starttls-relay:readiness']);

function typed(m: unknown): string | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const type = (m as { type?: unknown }).type;
  return typeof type === 'string' ? type : undefined;
}

export function isToWorker(m: unknown): m is ToWorker {
  return TO_WORKER.has(typed(m) ?? '');
}

export function isFromWorker(m: unknown): m is FromWorker {
  return FROM_WORKER.has(typed(m) ?? '');
}
