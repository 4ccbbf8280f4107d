/**
 * @module How many relay processes serve the listeners, and where each keeps its per-instance
 * outbound state (MTA-STS cache, TLS history, TLS-RPT counts): one directory per worker, so no
 * two processes ever write the same file.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';

/** The configured `workers`, `auto` being one per CPU the process may use. */
export function workerCount(setting: Config['workers']): number {
  return setting === 'auto' ? availableParallelism() : setting;
}

/** Worker `index` (1-based) keeps its outbound state here. */
export function workerStateDir(stateDir: string, index: number): string {
  return join(stateDir, `worker-${index}`);
}

/** Every directory holding an instance's outbound state under this config, for the CLIs. */
export function instanceStateDirs(config: Pick<Config, 'stateDir' | 'workers'>): string[] {
  const count = workerCount(config.workers);
  if (count === 1) return [config.stateDir];
  return Array.from({ length: count }, (_, i) => workerStateDir(config.stateDir, i + 1));
}
