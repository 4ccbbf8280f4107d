/** @module The embedded default configuration, served when no config file is given. */
import type { LoadResult } from './load.js';
import { validateConfig } from './load.js';

/**
 * A safe first run: listens on loopback only, relays for loopback clients only, delivers by
 * MX lookup with opportunistic TLS, and generates its own certificate into ./state.
 */
export const defaultConfigDocument = {
  stateDir: './state',
  listeners: [{ name: 'mta', mode: 'mta', host: '127.0.0.1', port: 2525 }],
  relay: { allowedNetworks: ['127.0.0.0/8', '::1/128'] },
  routes: [{ domains: ['*'], nextHop: 'mx', tls: 'may' }],
  metrics: { host: '127.0.0.1', port: 9464 },
} as const;

export function defaultConfig(cwd: string = process.cwd()): LoadResult {
  return validateConfig(defaultConfigDocument, cwd);
}
