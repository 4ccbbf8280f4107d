/** Messages between the bench driver and its child processes (sink, relay) over the fork IPC channel. */

/** Child → parent, once listening. */
export interface ReadyMessage {
  readonly kind: 'ready';
  readonly port: number;
}

/** Sink → parent, answering `{ kind: 'stats' }`. */
export interface SinkStats {
  readonly kind: 'stats';
  readonly delivered: number;
  readonly connections: number;
  readonly bytes: number;
  /** Messages delivered since the last `mark`, and the sink's clock (ms) at the first and last. */
  readonly sinceMark?: {
    readonly delivered: number;
    readonly firstAtMs: number | null;
    readonly lastAtMs: number | null;
  };
}

/** Relay → parent, answering `lag`: event-loop delay since the last `lag-reset` (perf_hooks). */
export interface LagMessage {
  readonly kind: 'lag';
  readonly meanMs: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Relay → parent, once `profile-start` or `profile-stop` is done. */
export interface ProfiledMessage {
  readonly kind: 'profiled';
}

export type ChildMessage = ReadyMessage | SinkStats | ProfiledMessage | LagMessage;

/**
 * Parent → child. `profile-stop` writes the .cpuprofile to `path`; `mark` (sink) starts counting
 * arrivals afresh and answers with `stats`; `lag-reset` and `lag` (relay) answer with `lag`.
 */
export type ParentMessage =
  | { readonly kind: 'stats' }
  | { readonly kind: 'mark' }
  | { readonly kind: 'lag-reset' }
  | { readonly kind: 'lag' }
  | { readonly kind: 'profile-start' }
  | { readonly kind: 'profile-stop'; readonly path: string };

function hasKind(m: unknown): m is { kind: unknown } {
  return typeof m === 'object' && m !== null && 'kind' in m;
}

export function isChildMessage(m: unknown): m is ChildMessage {
  return hasKind(m) && ['ready', 'stats', 'profiled', 'lag'].includes(String(m.kind));
}

export function isParentMessage(m: unknown): m is ParentMessage {
  return (
    hasKind(m) &&
    ['stats', 'mark', 'lag-reset', 'lag', 'profile-start', 'profile-stop'].includes(String(m.kind))
  );
}

/** Sends to the parent; a no-op when not forked. */
export function tellParent(message: ChildMessage): void {
  process.send?.(message);
}
