/**
 * One measured run of a scenario against one subject (the sink itself, the relay, Postfix):
 * sessions set up, the load, delivered messages counted and timed at the sink, and what the
 * subject cost in CPU, memory and (the relay) event-loop delay.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Child } from './children.js';
import {
  closeSessions,
  openSessions,
  sendFresh,
  sendLoad,
  sendOneEach,
  type LoadResult,
  type Session,
} from './client.js';
import type { LagMessage, SinkStats } from './ipc.js';
import type { PostfixPeer } from './postfix-peer.js';
import { cpuSeconds, samplePeak, treeCpuSeconds, treePssMiB } from './proc.js';
import type { Scenario } from './scenarios.js';
import { percentile, sortedCopy } from './stats.js';

export type SubjectKind = 'ceiling' | 'relay' | 'postfix';

export type Subject =
  | { readonly kind: 'ceiling'; readonly port: number }
  | { readonly kind: 'relay'; readonly port: number; readonly relay: Child }
  | { readonly kind: 'postfix'; readonly port: number; readonly postfix: PostfixPeer };

export interface ScenarioRunResult {
  /** Messages delivered at the sink per second, first to last arrival of the measured load. */
  readonly msgsPerSecond: number;
  /** Client-side latency per message (for Postfix: until it queued the message). */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Highest resident memory of the subject during the run (Postfix: its processes summed). */
  readonly peakRssMiB: number;
  /** CPU seconds per 1000 measured messages: the subject, the sink and the load generator. */
  readonly cpuPer1k: { readonly subject: number; readonly sink: number; readonly client: number };
  /** The relay's event-loop delay during the load. */
  readonly lag?: Omit<LagMessage, 'kind'>;
  /** Connections the sink accepted during the run (the subject's next-hop connections). */
  readonly sinkConnections: number;
  /** Session setup p50 (connect → ready for MAIL), where sessions are set up before the load. */
  readonly setupP50Ms?: number;
  /**
   * The unmeasured warm-up's rate, client side. The relay starts fresh for every run, so this is
   * how it does from a cold start; Postfix runs on through a scenario's runs.
   */
  readonly warmUpMsgsPerSecond?: number;
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Polls the sink until it has `count` more deliveries than `base` (Postfix delivers later). */
async function sinkReaches(sink: Child, count: number, timeoutMs: number): Promise<SinkStats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await sink.request({ kind: 'stats' }, 'stats');
    if (stats.delivered >= count) return stats;
    if (Date.now() > deadline) {
      throw new Error(`the sink has ${stats.delivered} messages, expected ${count}`);
    }
    await sleep(20);
  }
}

function subjectPid(subject: Subject, sink: Child): number | undefined {
  if (subject.kind === 'relay') return subject.relay.pid;
  if (subject.kind === 'ceiling') return sink.pid;
  return undefined;
}

export async function runScenario(
  scenario: Scenario,
  subject: Subject,
  sink: Child,
  message: Buffer,
  deadlineMs: number,
): Promise<ScenarioRunResult> {
  const pid = subjectPid(subject, sink);
  const rssNow = (): number =>
    subject.kind === 'postfix' ? subject.postfix.rssMiB() : treePssMiB(pid ?? 0);
  const subjectCpu = (): number =>
    subject.kind === 'postfix' ? subject.postfix.cpuSeconds() : treeCpuSeconds(pid ?? 0);
  // Postfix's PSS walks every daemon's page tables (a thousand of them in e): sampled less often.
  const rss = samplePeak(
    rssNow,
    subject.kind === 'postfix' ? 1000 : scenario.shape === 'hold' ? 100 : 250,
  );
  let sessions: Session[] = [];
  try {
    let start = await sink.request({ kind: 'stats' }, 'stats');
    const warmUpDeadline = Math.max(120_000, scenario.warmUp * 60);
    let warmed: WarmUp = { messages: 0 };
    /** The warm-up, and (Postfix queues) its delivery at the sink: none of it may count. */
    const warmUpDelivered = async (open: readonly Session[]): Promise<void> => {
      warmed = await withDeadline(
        warmUp(scenario, subject.port, open, message),
        warmUpDeadline,
        'warm-up',
      );
      if (warmed.messages === 0) return;
      await sinkReaches(
        sink,
        start.delivered + warmed.messages,
        Math.max(60_000, warmed.messages * 20),
      );
    };
    if (scenario.shape !== 'sessions') {
      // Before the held sessions open (or the fresh ones start): the warm-up's own connections
      // are not the run's.
      await warmUpDelivered([]);
      start = await sink.request({ kind: 'stats' }, 'stats');
    }
    if (scenario.shape !== 'fresh') {
      sessions = await withDeadline(
        openSessions(subject.port, scenario.clients, message, {
          tls: scenario.tls,
          warmUp: scenario.shape === 'sessions',
          // Opening a thousand at once overflows listen backlogs (and SYN retries take seconds).
          parallel: scenario.shape === 'hold' ? 100 : scenario.clients,
        }),
        Math.max(60_000, scenario.clients * 100),
        'opening sessions',
      );
    }
    // Long-lived sessions carry their warm-up themselves.
    if (scenario.shape === 'sessions') await warmUpDelivered(sessions);
    if (subject.kind === 'relay') await subject.relay.request({ kind: 'lag-reset' }, 'lag');
    await sink.request({ kind: 'mark' }, 'stats');
    const cpu0 = { subject: subjectCpu(), sink: cpuSeconds(sink.pid), client: process.cpuUsage() };

    let load: LoadResult;
    if (scenario.shape === 'sessions') {
      load = await withDeadline(sendLoad(sessions, scenario.messages, message), deadlineMs, 'load');
    } else if (scenario.shape === 'hold') {
      load = await withDeadline(sendOneEach(sessions, message), deadlineMs, 'load');
    } else {
      load = await withDeadline(
        sendFresh(subject.port, scenario.messages, scenario.clients, message, scenario.tls),
        deadlineMs,
        'load',
      );
    }
    const end = await sinkReachesSinceMark(sink, scenario.messages, deadlineMs);
    const clientCpu = process.cpuUsage(cpu0.client);
    const cpu = {
      subject: subjectCpu() - cpu0.subject,
      sink: cpuSeconds(sink.pid) - cpu0.sink,
      client: (clientCpu.user + clientCpu.system) / 1e6,
    };
    const lag =
      subject.kind === 'relay' ? await subject.relay.request({ kind: 'lag' }, 'lag') : undefined;
    const peakRssMiB = rss.stop();
    const setup = sessions.map((x) => x.setupMs);
    await closeSessions(sessions);
    sessions = [];

    const since = end.sinceMark;
    if (!since || since.firstAtMs === null || since.lastAtMs === null) {
      throw new Error('the sink timed no arrivals');
    }
    if (since.delivered !== scenario.messages) {
      throw new Error(`the sink got ${since.delivered} messages, expected ${scenario.messages}`);
    }
    const spanMs = since.lastAtMs - since.firstAtMs;
    const sorted = sortedCopy(load.latenciesMs);
    const per1k = 1000 / scenario.messages;
    return {
      // n arrivals span n − 1 intervals.
      msgsPerSecond: spanMs > 0 ? ((since.delivered - 1) * 1000) / spanMs : NaN,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      peakRssMiB,
      cpuPer1k: {
        subject: cpu.subject * per1k,
        sink: cpu.sink * per1k,
        client: cpu.client * per1k,
      },
      ...(lag ? { lag: { meanMs: lag.meanMs, p99Ms: lag.p99Ms, maxMs: lag.maxMs } } : {}),
      sinkConnections: end.connections - start.connections,
      ...(setup.length > 0 ? { setupP50Ms: percentile(sortedCopy(setup), 50) } : {}),
      ...(warmed.msgsPerSecond !== undefined ? { warmUpMsgsPerSecond: warmed.msgsPerSecond } : {}),
    };
  } finally {
    rss.stop();
    if (sessions.length > 0) await closeSessions(sessions);
  }
}

/**
 * The unmeasured load before the measured one (scenario.warmUp): V8 compiles the subject's hot
 * paths while it runs, as it has long done in a relay that has been up for a while. Returns how
 * many messages reached the subject, the sessions' first messages included.
 */
async function warmUp(
  scenario: Scenario,
  port: number,
  sessions: readonly Session[],
  message: Buffer,
): Promise<WarmUp> {
  const first = scenario.shape === 'sessions' ? sessions.length : 0;
  if (scenario.warmUp === 0) return { messages: first };
  let load: LoadResult;
  if (scenario.shape === 'sessions') {
    load = await sendLoad(sessions, scenario.warmUp, message);
  } else if (scenario.shape === 'fresh') {
    load = await sendFresh(port, scenario.warmUp, scenario.clients, message, scenario.tls);
  } else {
    // Before the held sessions open: a few sessions carry the warm-up and are closed again.
    const warm = await openSessions(port, scenario.warmUpSessions, message, {
      tls: scenario.tls,
      warmUp: false,
    });
    try {
      load = await sendLoad(warm, scenario.warmUp, message);
    } finally {
      await closeSessions(warm);
    }
  }
  return {
    messages: first + scenario.warmUp,
    msgsPerSecond: load.elapsedMs > 0 ? (scenario.warmUp * 1000) / load.elapsedMs : NaN,
  };
}

interface WarmUp {
  /** Messages that reached the subject before the measured load. */
  readonly messages: number;
  /** The warm-up's own rate, client side (final replies per second), when there was one. */
  readonly msgsPerSecond?: number;
}

/** Polls the sink until `count` messages arrived since the last mark. */
async function sinkReachesSinceMark(
  sink: Child,
  count: number,
  timeoutMs: number,
): Promise<SinkStats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await sink.request({ kind: 'stats' }, 'stats');
    if ((stats.sinceMark?.delivered ?? 0) >= count) return stats;
    if (Date.now() > deadline) {
      throw new Error(
        `the sink has ${stats.sinceMark?.delivered ?? 0} of ${count} messages after the load`,
      );
    }
    await sleep(20);
  }
}
