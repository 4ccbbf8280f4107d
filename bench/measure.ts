/** One measured run: warm sessions, the steady load, and what it cost the sink, client and relay. */
import { closeSessions, openSessions, sendLoad } from './client.js';
import type { Child } from './children.js';
import { cpuSeconds, cpuTimes, machineBusySeconds, memory, sampleRss } from './proc.js';
import { percentile, sortedCopy } from './stats.js';

export interface RunResult {
  readonly msgsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Session setup p50 (connect, 100 ms greeting pause, EHLO, STARTTLS, EHLO). */
  readonly setupP50Ms: number;
  /** The first (warm-up) message per session, p50: through the relay it opens the next hop. */
  readonly coldP50Ms: number;
  /** CPU seconds per 1000 steady-state messages. */
  readonly cpuPer1k: { readonly client: number; readonly sink: number; readonly relay?: number };
  /** Share of the relay's CPU spent in the kernel (socket writes and reads, TCP on loopback). */
  readonly relaySystemShare?: number;
  /** CPUs kept busy during the steady load: by the bench's processes, and by the whole machine. */
  readonly coresBusy: { readonly bench: number; readonly machine: number };
  /** Connections the sink accepted during the run. */
  readonly sinkConnections: number;
  /** Relay RSS: after start, highest 100 ms sample during the run, VmHWM (lifetime peak). */
  readonly relayRssMiB?: { readonly idle: number; readonly sampled: number; readonly peak: number };
}

/** Called between warm-up and the steady load, and after it (e.g. to profile just that). */
export interface SteadyHooks {
  before(): Promise<void>;
  after(): Promise<void>;
}

export interface RunSetup {
  readonly port: number;
  readonly connections: number;
  readonly messages: number;
  /** Unmeasured messages over the same sessions before the steady load (and its hooks). */
  readonly warmUp?: number;
  readonly message: Buffer;
  readonly sink: Child;
  readonly relay?: Child;
  readonly aroundSteady?: SteadyHooks;
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

export async function measureRun(setup: RunSetup, deadlineMs: number): Promise<RunResult> {
  const { sink, relay } = setup;
  const before = await sink.request({ kind: 'stats' }, 'stats');
  const rss = relay ? sampleRss(relay.pid) : undefined;
  const idleRss = relay ? memory(relay.pid).rssMiB : 0;
  try {
    const sessions = await withDeadline(
      openSessions(setup.port, setup.connections, setup.message),
      30_000,
      'opening sessions',
    );
    const warmUp = setup.warmUp ?? 0;
    if (warmUp > 0) {
      await withDeadline(sendLoad(sessions, warmUp, setup.message), deadlineMs, 'the warm-up');
    }
    await setup.aroundSteady?.before();
    const cpu0 = {
      client: process.cpuUsage(),
      sink: cpuSeconds(sink.pid),
      relay: relay ? cpuTimes(relay.pid) : { user: 0, system: 0 },
      machine: machineBusySeconds(),
    };
    const load = await withDeadline(
      sendLoad(sessions, setup.messages, setup.message),
      deadlineMs,
      'the load',
    );
    const clientCpu = process.cpuUsage(cpu0.client);
    const sinkCpu = cpuSeconds(sink.pid) - cpu0.sink;
    const relayTimes = relay ? cpuTimes(relay.pid) : cpu0.relay;
    const relaySystem = relayTimes.system - cpu0.relay.system;
    const relayCpu = relayTimes.user - cpu0.relay.user + relaySystem;
    const machineCpu = machineBusySeconds() - cpu0.machine;
    await setup.aroundSteady?.after();
    await closeSessions(sessions);

    const after = await sink.request({ kind: 'stats' }, 'stats');
    const expected = setup.messages + setup.connections + warmUp;
    if (after.delivered - before.delivered !== expected) {
      throw new Error(
        `the sink got ${after.delivered - before.delivered} messages, expected ${expected}`,
      );
    }
    const sorted = sortedCopy(load.latenciesMs);
    const per1k = 1000 / setup.messages;
    const seconds = load.elapsedMs / 1000;
    const benchCpu = (clientCpu.user + clientCpu.system) / 1e6 + sinkCpu + relayCpu;
    return {
      msgsPerSecond: setup.messages / seconds,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      setupP50Ms: percentile(sortedCopy(sessions.map((s) => s.setupMs)), 50),
      coldP50Ms: percentile(sortedCopy(sessions.map((s) => s.coldMs)), 50),
      cpuPer1k: {
        client: ((clientCpu.user + clientCpu.system) / 1e6) * per1k,
        sink: sinkCpu * per1k,
        ...(relay ? { relay: relayCpu * per1k } : {}),
      },
      ...(relay && relayCpu > 0 ? { relaySystemShare: relaySystem / relayCpu } : {}),
      coresBusy: { bench: benchCpu / seconds, machine: machineCpu / seconds },
      sinkConnections: after.connections - before.connections,
      ...(relay && rss
        ? { relayRssMiB: { idle: idleRss, sampled: rss.stop(), peak: memory(relay.pid).peakMiB } }
        : {}),
    };
  } finally {
    rss?.stop();
  }
}
