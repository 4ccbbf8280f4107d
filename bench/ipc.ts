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
}

/** Relay → parent, once `profile-start` or `profile-stop` is done. */
export interface ProfiledMessage {
  readonly kind: 'profiled';
}

export type ChildMessage = ReadyMessage | SinkStats | ProfiledMessage;

/** Parent → child. `profile-stop` writes the .cpuprofile to `path`. */
export type ParentMessage =
  | { readonly kind: 'stats' }
  | { readonly kind: 'profile-start' }
  | { readonly kind: 'profile-stop'; readonly path: string };

function hasKind(m: unknown): m is { kind: unknown } {
  return typeof m === 'object' && m !== null && 'kind' in m;
}

export function isChildMessage(m: unknown): m is ChildMessage {
  return hasKind(m) && ['ready', 'stats', 'profiled'].includes(String(m.kind));
}

export function isParentMessage(m: unknown): m is ParentMessage {
  return hasKind(m) && ['stats', 'profile-start', 'profile-stop'].includes(String(m.kind));
}

/** Sends to the parent; a no-op when not forked. */
export function tellParent(message: ChildMessage): void {
  process.send?.(message);
}
