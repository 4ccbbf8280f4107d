/**
 * @module A next-hop session for a client session under the per-next-hop connection cap: warm from
 * the connection cache, else a new connection while the next hop is under its cap, else a wait
 * (first come, first served) for a session another client session hands back or a slot a closed
 * connection frees. Every connection opened here is counted until it ends, whoever ends it.
 */
import type { NextHop } from '../routing/next-hop.js';
import { acceptable, rejudged, type ConnectionPool } from './connection-pool.js';
import type { HopPolicy } from './hop-policy.js';
import type { HopSlots } from './hop-slots.js';
import type { OpenedHop, OpenResult } from './open-hop.js';

/** An open that can also fail for congestion: the wait for a connection ran out. */
export type CappedOpenResult =
  OpenResult | { readonly ok: false; readonly attempts: readonly []; readonly congested: true };

export interface CappedOpenDeps {
  readonly pool: ConnectionPool;
  readonly slots: HopSlots<OpenedHop>;
}

/**
 * `openNew` opens a new connection under `policy`; `signal` aborts a wait when the client leaves
 * (the result is then a plain failure nobody hears).
 */
export async function openCapped(
  deps: CappedOpenDeps,
  nextHop: NextHop,
  policy: HopPolicy,
  openNew: () => Promise<OpenResult>,
  signal?: AbortSignal,
): Promise<CappedOpenResult> {
  const warm = await deps.pool.take(nextHop, policy);
  if (warm) return { ok: true, hop: warm, attempts: [] };
  const key = nextHop.key;
  const grant = await deps.slots.acquire(key, (hop) => acceptable(hop, nextHop, policy), signal);
  switch (grant.kind) {
    case 'handed':
      return { ok: true, hop: rejudged(grant.hop, policy), attempts: [] };
    case 'timed_out':
      return { ok: false, attempts: [], congested: true };
    case 'abandoned':
      return { ok: false, attempts: [] };
    case 'slot':
      break;
  }
  let opened: OpenResult;
  try {
    opened = await openNew();
  } catch (err) {
    deps.slots.free(key);
    throw err;
  }
  if (!opened.ok) {
    deps.slots.free(key);
    return opened;
  }
  const connection = opened.hop.connection;
  // 'end' is emitted once, however the connection ends (QUIT, close, error, the hop's close).
  if (connection.destroyed) deps.slots.free(key);
  else connection.once('end', () => deps.slots.free(key));
  return opened;
}
