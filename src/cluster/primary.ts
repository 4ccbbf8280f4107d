/**
 * @module The primary of several worker processes (node:cluster): starts `workers` relays that
 * share the listeners (the primary accepts and hands connections round-robin), serves /metrics
 * aggregated over all of them with prom-client's AggregatorRegistry, draws the inbound ticket
 * key every interval and gives it to every worker (a client resumes on any worker), forwards
 * SIGHUP, restarts a worker that died, and on SIGTERM lets every worker drain.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from '../config/schema.js';
import { createLogger, type Logger } from '../telemetry/logger.js';
import { startMetricsServer, type MetricsServer } from '../telemetry/http.js';
import { Metrics } from '../telemetry/metrics.js';
import { generatedCredentials } from '../tls/certificate.js';
import { newTicketKey, TICKET_KEY_ROTATION_MS } from '../tls/session-tickets.js';
import { isFromWorker, type ToWorker } from './messages.js';

/** Restart pause after a worker died: doubles while workers keep dying, up to the maximum. */
const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 30_000;
/** A worker that served this long before dying resets the pause. */
const STABLE_MS = 60_000;
/** Past the drain deadline, how long workers get to close before they are killed. */
const STOP_GRACE_MS = 10_000;

export interface PrimaryOptions {
  /** The worker's script and arguments (default: this process's own). */
  readonly exec?: string;
  readonly args?: readonly string[];
  readonly ticketKeyIntervalMs?: number;
}

export interface RunningPrimary {
  readonly logger: Logger;
  readonly metricsServer: MetricsServer;
  /** The listeners' ports (name → port), as the workers bound them (port 0 picks one). */
  readonly ports: Readonly<Record<string, number>>;
  /** Worker process ids now. */
  readonly pids: readonly number[];
  /** Every worker's metrics, aggregated (what /metrics serves). */
  render(): Promise<string>;
  /** SIGHUP: every worker loads its certificate again. */
  reload(): void;
  /** SIGTERM: every worker drains within the config's drain time and exits. */
  stop(): Promise<void>;
}

interface Slot {
  readonly index: number;
  worker: Worker;
  startedAt: number;
  ready: boolean;
  /** The worker's last readiness report. */
  serving: boolean;
  restartMs: number;
}

export async function startPrimary(
  config: Config,
  count: number,
  options: PrimaryOptions = {},
): Promise<RunningPrimary> {
  const logger = createLogger(config.log.level).child({ role: 'primary' });
  // Generated once here: workers starting together must not each make their own certificate.
  if (config.tls.cert === undefined) {
    await generatedCredentials(config.stateDir, config.hostname);
    if (config.tls.generateRsa) await generatedCredentials(config.stateDir, config.hostname, 'rsa');
  }
  cluster.setupPrimary({
    ...(options.exec !== undefined ? { exec: options.exec } : {}),
    ...(options.args !== undefined ? { args: [...options.args] } : {}),
  });
  const aggregator = new AggregatorRegistry();
  const metrics = new Metrics({ processMetrics: false });
  const intervalMs = options.ticketKeyIntervalMs ?? TICKET_KEY_ROTATION_MS;
  let ticketKey = newTicketKey();
  const keyMessage = (): ToWorker => ({
    type: 'starttls-relay:ticket-key',
    key: ticketKey.toString('base64'),
    intervalMs,
  });
  const slots: Slot[] = [];
  let ports: Readonly<Record<string, number>> = {};
  let stopping = false;
  const send = (slot: Slot, message: ToWorker): void => {
    if (slot.worker.isConnected()) slot.worker.send(message);
  };
  const serving = (): number => slots.filter((s) => s.ready && !s.worker.isDead()).length;

  const fork = (slot: Omit<Slot, 'worker'> & { worker?: Worker }): Slot => {
    const worker = cluster.fork({ STARTTLS_RELAY_WORKER: String(slot.index) });
    const live = slot as Slot;
    live.worker = worker;
    live.startedAt = Date.now();
    live.ready = false;
    live.serving = false;
    worker.on('message', (m: unknown) => {
      if (!isFromWorker(m)) return;
      if (m.type === 'starttls-relay:ready') {
        live.ready = true;
        ports = m.ports;
        send(live, keyMessage());
        metrics.workers.set(serving());
        logger.info({ index: live.index, pid: worker.process.pid }, 'worker serving');
      } else {
        live.serving = m.ready;
      }
    });
    worker.once('exit', (code, signal) => {
      live.ready = false;
      metrics.workers.set(serving());
      if (stopping) return;
      const stable = Date.now() - live.startedAt >= STABLE_MS;
      live.restartMs = stable ? RESTART_MIN_MS : Math.min(live.restartMs * 2, RESTART_MAX_MS);
      logger.error(
        { index: live.index, pid: worker.process.pid, code, signal, restartInMs: live.restartMs },
        'worker exited',
      );
      setTimeout(() => {
        // A signal to the whole process group reaches the workers first: no restart then.
        if (stopping) return;
        metrics.workerRestarts.inc();
        logger.info({ index: live.index }, 'worker starting again');
        fork(live);
      }, live.restartMs).unref();
    });
    return live;
  };

  for (let index = 1; index <= count; index++) {
    slots.push(
      fork({ index, startedAt: 0, ready: false, serving: false, restartMs: RESTART_MIN_MS / 2 }),
    );
  }
  try {
    await waitUntil(() => serving() === count, slots);
  } catch (err) {
    // A worker that cannot start (port taken, unreadable certificate) stops them all.
    stopping = true;
    for (const slot of slots) if (!slot.worker.isDead()) slot.worker.process.kill('SIGTERM');
    await Promise.all(slots.map((s) => exited(s.worker)));
    throw err;
  }
  metrics.workers.set(count);

  const rotation = setInterval(() => {
    ticketKey = newTicketKey();
    for (const slot of slots) if (slot.ready) send(slot, keyMessage());
  }, intervalMs);
  rotation.unref();

  const render = async (): Promise<string> => {
    const [workers, own] = await Promise.all([
      aggregator.clusterMetrics(),
      metrics.supervisorRegistry.metrics(),
    ]);
    return `${workers}\n${own}`;
  };
  const metricsServer = await startMetricsServer(
    { render, registry: aggregator },
    config.metrics.host,
    config.metrics.port,
    // Ready while any worker serves: the primary hands connections to live workers only.
    () => !stopping && slots.some((s) => s.ready && s.serving && !s.worker.isDead()),
  );
  logger.info(
    { host: config.metrics.host, port: metricsServer.port, workers: count },
    'metrics listening',
  );

  let stopped: Promise<void> | undefined;
  return {
    logger,
    metricsServer,
    get ports() {
      return ports;
    },
    get pids() {
      return slots.flatMap((s) =>
        s.worker.process.pid === undefined ? [] : [s.worker.process.pid],
      );
    },
    render,
    reload() {
      for (const slot of slots) send(slot, { type: 'starttls-relay:reload' });
    },
    stop() {
      stopped ??= (async () => {
        stopping = true;
        clearInterval(rotation);
        const drainMs = config.shutdown.drainSeconds * 1000;
        const exits = slots.map((s) => exited(s.worker));
        for (const slot of slots) send(slot, { type: 'starttls-relay:stop', drainMs });
        const kill = setTimeout(() => {
          for (const slot of slots) if (!slot.worker.isDead()) slot.worker.process.kill('SIGKILL');
        }, drainMs + STOP_GRACE_MS);
        await Promise.all(exits);
        clearTimeout(kill);
        await metricsServer.close();
        logger.flush();
      })();
      return stopped;
    },
  };
}

function exited(worker: Worker): Promise<void> {
  if (worker.isDead()) return Promise.resolve();
  return new Promise((resolve) => worker.once('exit', () => resolve()));
}

/** Resolves once `done()` holds; rejects when a worker dies before every worker served once. */
function waitUntil(done: () => boolean, slots: readonly Slot[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      if (done()) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(check, 50);
    for (const slot of slots) {
      slot.worker.once('exit', (code) => {
        if (done()) return;
        clearInterval(timer);
        reject(new Error(`worker ${slot.index} exited (code ${code}) before serving`));
      });
    }
  });
}
