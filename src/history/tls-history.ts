/**
 * @module The best TLS each destination reached, per instance: bounded (least recently seen
 * evicted first), optionally kept in a JSON file across restarts. It feeds downgrade detection
 * and the learning report of `tls-history` (which destinations could take `encrypt`/`verify`).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { TlsLevel } from '../tls/level.js';

export interface DestinationHistory {
  readonly best: TlsLevel;
  readonly last: TlsLevel;
  readonly firstSeen: string;
  readonly lastSeen: string;
  /** Sessions that reached each level (EHLO done, STARTTLS attempted where offered). */
  readonly sessions: Readonly<Record<TlsLevel, number>>;
}

const RANK: Record<TlsLevel, number> = { none: 0, encrypted: 1, verified: 2 };
const FILE_VERSION = 1;

export interface TlsHistoryOptions {
  readonly maxEntries: number;
  /** JSON file kept across restarts; undefined: memory only. */
  readonly path?: string;
  readonly now?: () => Date;
}

function isLevel(v: unknown): v is TlsLevel {
  return v === 'none' || v === 'encrypted' || v === 'verified';
}

function validEntry(v: unknown): v is DestinationHistory {
  if (typeof v !== 'object' || v === null) return false;
  const e = v as Record<string, unknown>;
  const s = e.sessions as Record<string, unknown> | undefined;
  return (
    isLevel(e.best) &&
    isLevel(e.last) &&
    typeof e.firstSeen === 'string' &&
    typeof e.lastSeen === 'string' &&
    typeof s === 'object' &&
    s !== null &&
    ['none', 'encrypted', 'verified'].every((k) => typeof s[k] === 'number')
  );
}

/** Reads a history file; a missing or corrupt file reads as empty (it is advisory state). */
export async function readHistoryFile(path: string): Promise<Map<string, DestinationHistory>> {
  const entries = new Map<string, DestinationHistory>();
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return entries;
  }
  const destinations = (parsed as { destinations?: unknown } | null)?.destinations;
  if (typeof destinations !== 'object' || destinations === null) return entries;
  for (const [key, value] of Object.entries(destinations)) {
    if (validEntry(value)) entries.set(key, value);
  }
  return entries;
}

export class TlsHistory {
  readonly #entries: Map<string, DestinationHistory>;
  #dirty = false;
  #writing: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly options: TlsHistoryOptions,
    entries: Map<string, DestinationHistory>,
  ) {
    this.#entries = entries;
  }

  static async open(options: TlsHistoryOptions): Promise<TlsHistory> {
    const entries = options.path
      ? await readHistoryFile(options.path)
      : new Map<string, DestinationHistory>();
    const history = new TlsHistory(options, entries);
    history.#evict();
    return history;
  }

  get size(): number {
    return this.#entries.size;
  }

  best(destination: string): TlsLevel | undefined {
    return this.#entries.get(destination)?.best;
  }

  get(destination: string): DestinationHistory | undefined {
    return this.#entries.get(destination);
  }

  /** Records one session's level; returns the level it had reached before, if any. */
  observe(destination: string, level: TlsLevel): TlsLevel | undefined {
    const now = (this.options.now ?? (() => new Date()))().toISOString();
    const before = this.#entries.get(destination);
    const sessions = { none: 0, encrypted: 0, verified: 0, ...before?.sessions };
    sessions[level] += 1;
    const next: DestinationHistory = {
      best: before && RANK[before.best] > RANK[level] ? before.best : level,
      last: level,
      firstSeen: before?.firstSeen ?? now,
      lastSeen: now,
      sessions,
    };
    // Map order is recency order: delete and set moves the entry to the end.
    this.#entries.delete(destination);
    this.#entries.set(destination, next);
    this.#evict();
    this.#dirty = true;
    return before?.best;
  }

  entries(): [string, DestinationHistory][] {
    return [...this.#entries];
  }

  /** Writes the file if anything changed (write then rename: a reader never sees half a file). */
  flush(): Promise<void> {
    const path = this.options.path;
    if (!path || !this.#dirty) return this.#writing;
    this.#dirty = false;
    const body = JSON.stringify({
      version: FILE_VERSION,
      destinations: Object.fromEntries(this.#entries),
    });
    const write = this.#writing.then(async () => {
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, body, { mode: 0o600 });
      await rename(tmp, path);
    });
    // A failed write leaves the history dirty for the next flush, and never blocks later ones.
    this.#writing = write.catch(() => {
      this.#dirty = true;
    });
    return write;
  }

  /** Flushes every `intervalMs` while the relay runs. */
  autoFlush(intervalMs: number, onError: (err: unknown) => void): void {
    this.#timer = setInterval(() => {
      this.flush().catch(onError);
    }, intervalMs);
    this.#timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }

  #evict(): void {
    while (this.#entries.size > this.options.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
  }
}
