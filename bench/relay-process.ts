/**
 * Bench child: the relay from a YAML config file (argv[2]), its port reported over IPC, and its
 * event-loop delay measured in-process and reported on request. With `workers` above 1 it is the
 * primary of real worker processes (src/main.ts `serve`), and the delay is the workers' own, read
 * from the aggregated metrics (cluster-primary.ts).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startRelay } from '../src/app.js';
import { workerCount } from '../src/cluster/instances.js';
import { loadConfigFile } from '../src/config/load.js';
import { CpuProfiler } from './cpu-profiler.js';
import { servePrimary } from './cluster-primary.js';
import { isParentMessage, tellParent } from './ipc.js';

const configPath = process.argv[2];
if (configPath === undefined) throw new Error('usage: relay-process CONFIG.yaml');
const loaded = await loadConfigFile(configPath);
if (!loaded.ok) throw new Error(`${configPath}: ${loaded.errors.join('; ')}`);
const config = loaded.config;
const workers = workerCount(config.workers);
if (workers > 1) {
  await servePrimary(config, workers, configPath);
} else {
  await serveAlone();
}

async function serveAlone(): Promise<void> {
  const relay = await startRelay(config);
  const listener = relay.listeners.get('mta') ?? [...relay.listeners.values()][0];
  if (!listener) throw new Error('the relay has no listener');

  // The relay's own event-loop delay: how late its timers and I/O callbacks run under the load.
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  const ms = (ns: number): number => ns / 1e6;

  const profiler = new CpuProfiler();
  process.on('message', (m: unknown) => {
    if (!isParentMessage(m)) return;
    if (m.kind === 'lag-reset') lag.reset();
    if (m.kind === 'lag' || m.kind === 'lag-reset') {
      tellParent({
        kind: 'lag',
        meanMs: Number.isNaN(lag.mean) ? 0 : ms(lag.mean),
        p99Ms: ms(lag.percentile(99)),
        maxMs: ms(lag.max),
      });
      return;
    }
    const done = (): void => tellParent({ kind: 'profiled' });
    const failed = (err: unknown): void => {
      process.stderr.write(`relay-process: profiling failed: ${String(err)}\n`);
      done();
    };
    if (m.kind === 'profile-start') profiler.start().then(done, failed);
    else if (m.kind === 'profile-stop') profiler.stop(m.path).then(done, failed);
  });

  const stop = (): void => {
    const force = setTimeout(() => process.exit(0), 3000);
    const exit = (): void => {
      clearTimeout(force);
      process.exit(0);
    };
    relay.close().then(exit, exit);
  };
  process.once('SIGTERM', stop);
  process.once('disconnect', stop);
  tellParent({ kind: 'ready', port: listener.port });
}
