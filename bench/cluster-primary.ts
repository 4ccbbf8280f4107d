/**
 * Bench child, several workers: the relay's own primary (src/cluster/primary.ts) running the
 * compiled `serve` command in its workers, its listener port reported over IPC, and the workers'
 * event-loop delay read from the aggregated /metrics families prom-client keeps per worker
 * (p99 averaged over the workers, max the highest), each scrape resetting the window.
 */
import { fileURLToPath } from 'node:url';
import { startPrimary } from '../src/cluster/primary.js';
import type { Config } from '../src/config/schema.js';
import { isParentMessage, tellParent } from './ipc.js';

/** One sample's value from the exposition text, in ms; 0 when absent. */
function lagMs(page: string, family: string): number {
  const line = page
    .split('\n')
    .find((l) => l.startsWith(`starttls_relay_nodejs_eventloop_lag_${family}_seconds `));
  const value = Number(line?.split(' ')[1] ?? 0);
  return Number.isFinite(value) ? value * 1000 : 0;
}

export async function servePrimary(
  config: Config,
  workers: number,
  configPath: string,
): Promise<void> {
  // The worker runs what this child runs: compiled JavaScript, or TypeScript under tsx.
  const extension = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const exec = fileURLToPath(new URL(`../src/main.${extension}`, import.meta.url));
  const primary = await startPrimary(config, workers, {
    exec,
    args: ['serve', '--config', configPath],
  });
  const port = primary.ports.mta ?? Object.values(primary.ports)[0];
  if (port === undefined) throw new Error('the relay has no listener');
  process.on('message', (m: unknown) => {
    if (!isParentMessage(m)) return;
    if (m.kind === 'lag' || m.kind === 'lag-reset') {
      primary.render().then(
        (page) =>
          tellParent({
            kind: 'lag',
            meanMs: lagMs(page, 'mean'),
            p99Ms: lagMs(page, 'p99'),
            maxMs: lagMs(page, 'max'),
          }),
        (err: unknown) => {
          process.stderr.write(`relay-process: metrics failed: ${String(err)}\n`);
          tellParent({ kind: 'lag', meanMs: 0, p99Ms: 0, maxMs: 0 });
        },
      );
      return;
    }
    // Profiling runs one process: --profile uses a single-worker relay.
    if (m.kind === 'profile-start' || m.kind === 'profile-stop') tellParent({ kind: 'profiled' });
  });
  const stop = (): void => {
    const force = setTimeout(() => process.exit(0), 8000);
    void primary.stop().finally(() => {
      clearTimeout(force);
      process.exit(0);
    });
  };
  process.once('SIGTERM', stop);
  process.once('disconnect', stop);
  tellParent({ kind: 'ready', port });
}
