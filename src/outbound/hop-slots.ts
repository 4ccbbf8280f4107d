/**
 * @module The per-next-hop connection cap (like Postfix's default_destination_concurrency_limit):
 * how many connections this process has to each next-hop key (held by client sessions, idle in
 * the cache, being opened), and the RCPTs waiting, first come first served, for a session handed
 * over or a slot freed. Client sessions that hold a session between transactions register here,
 * so that a waiter can reclaim it: idle clients never starve busy ones. Knows nothing of SMTP.
 */

export interface SlotSettings {
  /** Connections counted per next-hop key. */
  readonly maxPerHop: number;
  /** How long a waiter waits before it gives up (the client then hears 451 4.4.5). */
  readonly waitMs: number;
}

export const WAIT_OUTCOMES = ['served', 'timed_out', 'abandoned'] as const;
export type WaitOutcome = (typeof WAIT_OUTCOMES)[number];

/** What the cap reports: counted by the caller (metrics), never a host name. */
export interface SlotObserver {
  waited(outcome: WaitOutcome): void;
  /** Waiters now, all next hops together. */
  waiting(count: number): void;
  /** Connections counted now, all next hops together. */
  open(count: number): void;
}

/** What a waiter gets: a slot to open a new connection in, a session handed over, or nothing. */
export type Grant<T> =
  | { readonly kind: 'slot' }
  | { readonly kind: 'handed'; readonly hop: T }
  | { readonly kind: 'timed_out' }
  | { readonly kind: 'abandoned' };

/** A client session holding a next-hop session between its transactions: it can give it up. */
export interface IdleHolder {
  giveUp(): void;
}

/** What a client session's hop cache sees of the cap. */
export interface IdleHolders {
  /** Someone waits for this next hop: a session that falls idle is given up at once. */
  waiting(key: string): boolean;
  hold(key: string, holder: IdleHolder): void;
  unhold(key: string, holder: IdleHolder): void;
}

export interface SlotDeps {
  readonly observer?: SlotObserver;
  /**
   * Someone started waiting for `key`: hand one idle cached session of it to the waiters (or close
   * it, freeing its slot). False when the cache holds none.
   */
  readonly yieldIdle?: (key: string) => boolean;
}

interface Waiter<T> {
  readonly accepts: (hop: T) => boolean;
  readonly settle: (grant: Grant<T>) => void;
}

interface HopState<T> {
  /** Connections counted against the cap. */
  open: number;
  /** First come, first served. */
  readonly waiters: Waiter<T>[];
  /** Client sessions holding an idle session, the one idle longest first. */
  readonly holders: Set<IdleHolder>;
}

const SLOT = { kind: 'slot' } as const;

export class HopSlots<T> implements IdleHolders {
  readonly #hops = new Map<string, HopState<T>>();
  #open = 0;
  #waiting = 0;

  constructor(
    private readonly settings: SlotSettings,
    private readonly deps: SlotDeps = {},
  ) {}

  /** Connections counted for `key` now (tests, logs). */
  openCount(key: string): number {
    return this.#hops.get(key)?.open ?? 0;
  }

  /**
   * A slot for a new connection to `key`: at once while under the cap, else after waiting (FIFO)
   * for a session handed over that `accepts` takes, or a slot freed. The holder of a slot opens a
   * connection and calls `free` when it ends (or when opening failed).
   */
  acquire(key: string, accepts: (hop: T) => boolean, signal?: AbortSignal): Promise<Grant<T>> {
    if (signal?.aborted) return Promise.resolve({ kind: 'abandoned' });
    const state = this.#state(key);
    if (state.open < this.settings.maxPerHop) {
      this.#count(state, 1);
      return Promise.resolve(SLOT);
    }
    return new Promise((resolve) => {
      const onAbort = (): void => settle({ kind: 'abandoned' });
      const timer = setTimeout(() => settle({ kind: 'timed_out' }), this.settings.waitMs);
      const waiter: Waiter<T> = {
        accepts,
        settle: (grant) => settle(grant),
      };
      const settle = (grant: Grant<T>): void => {
        const at = state.waiters.indexOf(waiter);
        if (at < 0) return;
        state.waiters.splice(at, 1);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#wait(-1);
        this.deps.observer?.waited(
          grant.kind === 'slot' || grant.kind === 'handed' ? 'served' : grant.kind,
        );
        this.#forget(key, state);
        resolve(grant);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      state.waiters.push(waiter);
      this.#wait(1);
      // Make room: an idle cached session first (no client disturbed), else an idle client's.
      if (!this.deps.yieldIdle?.(key)) this.#reclaim(state);
    });
  }

  /**
   * A connection counted against `key` ended, or could not be opened: its slot goes to the first
   * waiter (who opens a new connection in it), else the count drops.
   */
  free(key: string): void {
    const state = this.#hops.get(key);
    if (!state || state.open === 0) return;
    const first = state.waiters[0];
    if (first) {
      first.settle(SLOT);
      return;
    }
    this.#count(state, -1);
    this.#forget(key, state);
  }

  /** Whether an RCPT waits for `key` now. */
  waiting(key: string): boolean {
    return (this.#hops.get(key)?.waiters.length ?? 0) > 0;
  }

  /**
   * A session of `key`, ready for a new transaction: to the first waiter that accepts it (it stays
   * counted, now that waiter's). False when no waiter takes it.
   */
  offer(key: string, hop: T): boolean {
    const waiter = this.#hops.get(key)?.waiters.find((w) => w.accepts(hop));
    if (!waiter) return false;
    waiter.settle({ kind: 'handed', hop });
    return true;
  }

  hold(key: string, holder: IdleHolder): void {
    this.#state(key).holders.add(holder);
  }

  unhold(key: string, holder: IdleHolder): void {
    const state = this.#hops.get(key);
    if (!state) return;
    state.holders.delete(holder);
    this.#forget(key, state);
  }

  /** Shutdown: every waiter gives up now. */
  close(): void {
    for (const state of [...this.#hops.values()]) {
      for (const waiter of [...state.waiters]) waiter.settle({ kind: 'abandoned' });
    }
  }

  /** The client session idle longest gives its session up: it goes to the waiters, or closes. */
  #reclaim(state: HopState<T>): void {
    const holder = state.holders.values().next().value;
    if (!holder) return;
    state.holders.delete(holder);
    holder.giveUp();
  }

  #state(key: string): HopState<T> {
    let state = this.#hops.get(key);
    if (!state) {
      state = { open: 0, waiters: [], holders: new Set() };
      this.#hops.set(key, state);
    }
    return state;
  }

  /** An entry with nothing counted, waiting or held is dropped: the map stays bounded. */
  #forget(key: string, state: HopState<T>): void {
    if (state.open === 0 && state.waiters.length === 0 && state.holders.size === 0) {
      this.#hops.delete(key);
    }
  }

  #count(state: HopState<T>, delta: number): void {
    state.open += delta;
    this.#open += delta;
    this.deps.observer?.open(this.#open);
  }

  #wait(delta: number): void {
    this.#waiting += delta;
    this.deps.observer?.waiting(this.#waiting);
  }
}
