/**
 * @module The users file: lines `name:hash` (hashes from `starttls-relay hash-password`), `#`
 * comments, reloaded when the file changes. A file that fails to parse never replaces a good one.
 */
import { unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hashPassword, parseHash, verifyPassword, type ParsedHash } from './password-hash.js';

export interface ParsedUsers {
  readonly users: ReadonlyMap<string, ParsedHash>;
  readonly errors: readonly string[];
}

/** Every malformed line is reported with its number; the file is usable only without errors. */
export function parseUsers(text: string): ParsedUsers {
  const users = new Map<string, ParsedHash>();
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon);
    if (colon <= 0 || /\s/.test(name)) {
      errors.push(`line ${i + 1}: expected name:hash`);
      return;
    }
    const hash = parseHash(line.slice(colon + 1));
    if (!hash) errors.push(`line ${i + 1}: user "${name}": not a hash made by hash-password`);
    else if (users.has(name)) errors.push(`line ${i + 1}: user "${name}" appears twice`);
    else users.set(name, hash);
  });
  return { users, errors };
}

export interface UsersFileEvents {
  reloaded(count: number): void;
  reloadFailed(errors: readonly string[]): void;
}

export class UsersFile {
  #users: ReadonlyMap<string, ParsedHash>;
  /** Checked for unknown users, so an unknown name costs as much as a wrong password. */
  readonly #decoy: ParsedHash;
  #watching = false;

  private constructor(
    private readonly path: string,
    users: ReadonlyMap<string, ParsedHash>,
    decoy: ParsedHash,
  ) {
    this.#users = users;
    this.#decoy = decoy;
  }

  /** Loads the file; rejects listing every bad line, so a bad file stops the relay at startup. */
  static async load(path: string): Promise<UsersFile> {
    const parsed = parseUsers(await readFile(path, 'utf8'));
    if (parsed.errors.length > 0) throw new Error(`${path}: ${parsed.errors.join('; ')}`);
    const decoy = parseHash(await hashPassword('decoy'));
    if (!decoy) throw new Error('decoy hash');
    return new UsersFile(path, parsed.users, decoy);
  }

  get size(): number {
    return this.#users.size;
  }

  /** One answer for an unknown user and a wrong password, after the same work (RFC 4954 §6). */
  async verify(username: string, password: string): Promise<boolean> {
    const hash = this.#users.get(username);
    const ok = await verifyPassword(password, hash ?? this.#decoy);
    return ok && hash !== undefined;
  }

  /** Reads the file again; keeps the current users when the new text has errors. */
  async reload(): Promise<{ readonly ok: boolean; readonly errors: readonly string[] }> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      return { ok: false, errors: [`cannot read: ${(err as Error).message}`] };
    }
    const parsed = parseUsers(text);
    if (parsed.errors.length > 0) return { ok: false, errors: parsed.errors };
    this.#users = parsed.users;
    return { ok: true, errors: [] };
  }

  /** Polls the file's mtime (robust to editors that replace the file by renaming). */
  watch(events: UsersFileEvents, intervalMs = 2000): void {
    if (this.#watching) return;
    this.#watching = true;
    watchFile(this.path, { interval: intervalMs, persistent: false }, (curr, prev) => {
      if (curr.mtimeMs === prev.mtimeMs && curr.size === prev.size) return;
      void this.reload().then((r) =>
        r.ok ? events.reloaded(this.size) : events.reloadFailed(r.errors),
      );
    });
  }

  close(): void {
    if (this.#watching) unwatchFile(this.path);
    this.#watching = false;
  }
}
