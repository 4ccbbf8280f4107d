/**
 * @module The policy cache kept across restarts in one JSON file: read once at start (a missing
 * or corrupt file is an empty cache, never a crash), written after changes at most once a second,
 * through a temporary file renamed over the old one so a reader never sees half a file.
 */
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import type { CachedPolicy } from './cache.js';
import { isPolicyId } from './record.js';

const FORMAT_VERSION = 1;
/** Writes are at least this far apart, so a burst of fetches makes one write. */
export const MIN_WRITE_INTERVAL_MS = 1000;

interface StoredPolicy {
  readonly domain: string;
  readonly id: string;
  readonly mode: 'enforce' | 'testing' | 'none';
  readonly mx: readonly string[];
  readonly maxAgeSeconds: number;
  readonly fetchedAtMs: number;
  readonly expiresAtMs: number;
}

const MODES: ReadonlySet<string> = new Set(['enforce', 'testing', 'none']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toEntry(value: unknown): [string, CachedPolicy] | undefined {
  if (!isRecord(value)) return undefined;
  const { domain, id, mode, mx, maxAgeSeconds, fetchedAtMs, expiresAtMs } = value;
  if (typeof domain !== 'string' || domain === '') return undefined;
  if (typeof id !== 'string' || !isPolicyId(id)) return undefined;
  if (typeof mode !== 'string' || !MODES.has(mode)) return undefined;
  if (!Array.isArray(mx) || !mx.every((p): p is string => typeof p === 'string')) return undefined;
  if (typeof maxAgeSeconds !== 'number' || !Number.isSafeInteger(maxAgeSeconds)) return undefined;
  if (typeof fetchedAtMs !== 'number' || !Number.isFinite(fetchedAtMs)) return undefined;
  if (typeof expiresAtMs !== 'number' || !Number.isFinite(expiresAtMs)) return undefined;
  const policy = { mode: mode as StoredPolicy['mode'], mx: [...mx], maxAgeSeconds, id };
  return [domain, { policy, fetchedAt: fetchedAtMs, expiresAt: expiresAtMs }];
}

export type LoadedState =
  | { readonly ok: true; readonly entries: Array<[string, CachedPolicy]> }
  | { readonly ok: false; readonly entries: []; readonly error: string };

/**
 * The unexpired policies in the file, least recently used first; no file is an empty cache.
 * Entries that do not read as a policy are skipped one by one.
 */
export function loadState(path: string, now: number): LoadedState {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ENOENT') return { ok: true, entries: [] };
    return { ok: false, entries: [], error: `${path}: ${code ?? String(err)}` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { ok: false, entries: [], error: `${path}: ${(err as Error).message}` };
  }
  if (!isRecord(parsed) || parsed.version !== FORMAT_VERSION || !Array.isArray(parsed.policies))
    return { ok: false, entries: [], error: `${path}: not a version ${FORMAT_VERSION} state file` };
  const entries = parsed.policies
    .map(toEntry)
    .filter((e): e is [string, CachedPolicy] => e !== undefined && now < e[1].expiresAt);
  return { ok: true, entries };
}

export function serialiseState(entries: ReadonlyArray<[string, CachedPolicy]>): string {
  const policies: StoredPolicy[] = entries.map(([domain, e]) => ({
    domain,
    id: e.policy.id,
    mode: e.policy.mode,
    mx: e.policy.mx,
    maxAgeSeconds: e.policy.maxAgeSeconds,
    fetchedAtMs: e.fetchedAt,
    expiresAtMs: e.expiresAt,
  }));
  return `${JSON.stringify({ version: FORMAT_VERSION, policies }, null, 1)}\n`;
}

/** Writes `snapshot()` to `path` after changed(), at most once per MIN_WRITE_INTERVAL_MS. */
export class StateWriter {
  readonly #path: string;
  readonly #snapshot: () => string;
  readonly #onError: (error: string) => void;
  #dirty = false;
  #lastWrite = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Writes run one after another. */
  #chain: Promise<void> = Promise.resolve();

  constructor(path: string, snapshot: () => string, onError: (error: string) => void) {
    this.#path = path;
    this.#snapshot = snapshot;
    this.#onError = onError;
  }

  changed(): void {
    this.#dirty = true;
    if (this.#timer !== undefined) return;
    const delay = Math.max(0, this.#lastWrite + MIN_WRITE_INTERVAL_MS - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#write();
    }, delay);
    // A pending write does not keep the process alive; flush() at shutdown writes it.
    this.#timer.unref();
  }

  /** Writes any pending change now; resolves when the file is in place. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    return this.#write();
  }

  #write(): Promise<void> {
    this.#chain = this.#chain.then(async () => {
      if (!this.#dirty) return;
      this.#dirty = false;
      this.#lastWrite = Date.now();
      const temporary = `${this.#path}.${process.pid}.tmp`;
      try {
        await writeFile(temporary, this.#snapshot(), { mode: 0o600 });
        await rename(temporary, this.#path);
      } catch (err) {
        this.#onError(`${this.#path}: ${(err as { code?: string }).code ?? String(err)}`);
      }
    });
    return this.#chain;
  }
}
