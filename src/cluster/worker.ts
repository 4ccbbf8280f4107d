/**
 * @module One worker process of several: the whole relay (listeners shared with the other
 * workers through node:cluster), its metrics answered to the primary instead of served, its
 * outbound state in its own directory, its ticket key from the primary, and the primary's
 * reload and stop orders carried out.
 */
import cluster from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { startRelay, type RunningRelay } from '../app.js';
import type { Config } from '../config/schema.js';
import { Metrics } from '../telemetry/metrics.js';
import { useTicketKey } from '../tls/session-tickets.js';
import { workerStateDir } from './instances.js';
import { isToWorker, type FromWorker, type ToWorker } from './messages.js';

/** How often a worker tells the primary whether it would pass /readyz. */
const READINESS_EVERY_MS = 2000;

function tell(message: FromWorker): void {
  if (process.connected) process.send?.(message);
}

/** Runs worker `index` until the primary (or a signal) stops it. */
export async function runWorker(config: Config, index: number): Promise<void> {
  if (!cluster.isWorker) throw new Error('runWorker outside a cluster worker');
  // prom-client answers the primary's metric requests from these registries, from the start: a
  // worker still starting answers (with zeroes) instead of failing the primary's scrape.
  const metrics = new Metrics();
  AggregatorRegistry.setRegistries([metrics.registry, metrics.processRegistry]);
  new AggregatorRegistry();

  // Orders that arrive while the relay starts are carried out once it runs (a stop is never lost).
  const started: { relay?: RunningRelay } = {};
  const early: ToWorker[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (drainMs: number): Promise<void> => {
    const running = started.relay;
    if (!running) {
      early.push({ type: 'starttls-relay:stop', drainMs });
      return Promise.resolve();
    }
    stopping ??= running
      .drain(drainMs)
      .then(() => running.close())
      .finally(() => {
        clearInterval(readiness);
        process.exit(0);
      });
    return stopping;
  };
  const obey = (m: ToWorker): void => {
    const relay = started.relay;
    if (!relay) {
      early.push(m);
      return;
    }
    switch (m.type) {
      case 'starttls-relay:ticket-key':
        applyTicketKey(relay, Buffer.from(m.key, 'base64'), m.intervalMs);
        break;
      case 'starttls-relay:reload':
        relay.logger.info({ signal: 'SIGHUP' }, 'reloading the certificate');
        void relay.reloadCertificate();
        break;
      case 'starttls-relay:stop':
        void stop(m.drainMs);
        break;
    }
  };
  process.on('message', (m: unknown) => {
    if (isToWorker(m)) obey(m);
  });
  // A signal sent to the whole process group (Ctrl-C, systemd) reaches workers too: the
  // primary's stop order follows and changes nothing.
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => void stop(config.shutdown.drainSeconds * 1000));
  }
  process.on('SIGHUP', () => undefined);
  // The primary gone means nobody hands out connections or ticket keys any more.
  process.once('disconnect', () => void stop(config.shutdown.drainSeconds * 1000));

  const relay = await startRelay(config, {
    metrics,
    metricsServer: false,
    instance: { index, stateDir: workerStateDir(config.stateDir, index) },
  });
  started.relay = relay;
  const readiness = setInterval(
    () => tell({ type: 'starttls-relay:readiness', ready: relay.ready() }),
    READINESS_EVERY_MS,
  );
  readiness.unref();
  const ports = Object.fromEntries([...relay.listeners].map(([name, l]) => [name, l.port]));
  tell({ type: 'starttls-relay:ready', ports });
  tell({ type: 'starttls-relay:readiness', ready: relay.ready() });
  for (const m of early.splice(0)) obey(m);
}

function applyTicketKey(relay: RunningRelay, key: Buffer, intervalMs: number): void {
  for (const listener of relay.listeners.values()) useTicketKey(listener.server, key, intervalMs);
}
