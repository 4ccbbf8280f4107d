/**
 * `npm run bench:soak`: a bounded soak. At least 100,000 messages through the relay with STARTTLS
 * on both hops, in rounds of fresh client sessions (so sessions and next-hop sessions churn too),
 * sampling the relay's RSS and its own event-loop delay every few seconds; prints the samples and
 * a verdict on memory (the RSS peak of the last quarter of the samples against the second's).
 * A benchmark, never a test: it asserts nothing about speed, only that every message arrived.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { buildChildren, startChild, type Child, type Runner } from './children.js';
import { buildMessage, closeSessions, openSessions, sendLoad } from './client.js';
import { memory } from './proc.js';

interface SoakOptions {
  readonly messages: number;
  readonly connections: number;
  readonly round: number;
  readonly size: number;
  readonly sampleSeconds: number;
  readonly runner: Runner;
}

const USAGE = `usage: npm run bench:soak -- [--messages N (100000)] [--connections C (8)]
  [--round M (2000): messages per round of fresh sessions] [--size BYTES (1024)]
  [--sample-seconds S (5)] [--runner compiled|tsx]`;

function parseOptions(argv: string[]): SoakOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      messages: { type: 'string', default: '100000' },
      connections: { type: 'string', default: '8' },
      round: { type: 'string', default: '2000' },
      size: { type: 'string', default: '1024' },
      'sample-seconds': { type: 'string', default: '5' },
      runner: { type: 'string', default: 'compiled' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return undefined;
  }
  const num = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  if (values.runner !== 'compiled' && values.runner !== 'tsx')
    throw new Error('--runner must be compiled or tsx');
  return {
    messages: num('messages', values.messages, 1),
    connections: num('connections', values.connections, 1),
    round: num('round', values.round, 1),
    size: num('size', values.size, 256),
    sampleSeconds: num('sample-seconds', values['sample-seconds'], 1),
    runner: values.runner,
  };
}

interface Sample {
  readonly atS: number;
  readonly delivered: number;
  readonly rateMsgsPerS: number;
  readonly rssMiB: number;
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
}

function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** Every `seconds`: the relay's RSS, its event-loop delay since the last sample, the sink's count. */
function startSampler(relay: Child, sink: Child, seconds: number, t0: number) {
  const samples: Sample[] = [];
  let lastDelivered = 0;
  let lastAt = t0;
  let busy = false;
  const take = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const lag = await relay.request({ kind: 'lag' }, 'lag');
      await relay.request({ kind: 'lag-reset' }, 'lag');
      const stats = await sink.request({ kind: 'stats' }, 'stats');
      const now = performance.now();
      samples.push({
        atS: (now - t0) / 1000,
        delivered: stats.delivered,
        rateMsgsPerS: ((stats.delivered - lastDelivered) * 1000) / (now - lastAt),
        rssMiB: memory(relay.pid).rssMiB,
        lagP99Ms: lag.p99Ms,
        lagMaxMs: lag.maxMs,
      });
      process.stderr.write(
        `  ${samples.length}: ${stats.delivered} delivered, RSS ${memory(relay.pid).rssMiB.toFixed(1)} MiB\n`,
      );
      lastDelivered = stats.delivered;
      lastAt = now;
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void take(), seconds * 1000);
  return {
    samples,
    async stop(): Promise<Sample[]> {
      clearInterval(timer);
      while (busy) await new Promise((r) => setTimeout(r, 20));
      await take();
      return samples;
    },
  };
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);

function render(samples: readonly Sample[], totals: { messages: number; seconds: number }): string {
  const rows = samples.map(
    (s) =>
      `${s.atS.toFixed(0).padStart(6)}  ${String(s.delivered).padStart(9)}  ${s.rateMsgsPerS
        .toFixed(0)
        .padStart(7)}  ${s.rssMiB.toFixed(1).padStart(8)}  ${s.lagP99Ms
        .toFixed(1)
        .padStart(8)}  ${s.lagMaxMs.toFixed(1).padStart(8)}`,
  );
  const q = Math.floor(samples.length / 4);
  const second = samples.slice(q, 2 * q).map((s) => s.rssMiB);
  const last = samples.slice(samples.length - q).map((s) => s.rssMiB);
  // RSS is a sawtooth (garbage collection): a sample lands anywhere on a tooth, so means swing
  // with the GC phase. A leak lifts the peaks: flat when the last quarter's peak stays within
  // 10 % (and at least 4 MiB) of the second quarter's.
  const peakGrowth = Math.max(...last) - Math.max(...second);
  const flat = q > 0 && peakGrowth <= Math.max(4, Math.max(...second) * 0.1);
  const growth = mean(last) - mean(second);
  const lagMax = Math.max(...samples.map((s) => s.lagMaxMs));
  const lagP99 = Math.max(...samples.map((s) => s.lagP99Ms));
  const rss = samples.map((s) => s.rssMiB);
  return [
    '   t/s  delivered  msgs/s  RSS/MiB  lag p99  lag max (ms, since previous sample)',
    ...rows,
    '',
    `messages ${totals.messages} in ${totals.seconds.toFixed(1)} s: ${(totals.messages / totals.seconds).toFixed(0)} msgs/s`,
    `relay RSS start ${rss[0]?.toFixed(1)} MiB, mid ${rss[Math.floor(rss.length / 2)]?.toFixed(1)} MiB, end ${rss[rss.length - 1]?.toFixed(1)} MiB, peak ${Math.max(...rss).toFixed(1)} MiB`,
    `relay event-loop lag: max ${lagMax.toFixed(1)} ms, worst per-sample p99 ${lagP99.toFixed(1)} ms`,
    q === 0
      ? 'memory verdict: too few samples (run longer or sample more often)'
      : `memory verdict: ${flat ? 'FLAT' : 'GROWING'} (RSS peak: second quarter ${Math.max(...second).toFixed(1)} MiB, last quarter ${Math.max(...last).toFixed(1)} MiB; mean: ${mean(second).toFixed(1)} → ${mean(last).toFixed(1)} MiB, ${growth >= 0 ? '+' : ''}${growth.toFixed(1)})`,
    '',
  ].join('\n');
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  if (!options) return 0;
  const dir = await mkdtemp(join(tmpdir(), 'starttls-relay-soak-'));
  const children: Child[] = [];
  try {
    if (options.runner === 'compiled') {
      process.stderr.write('compiling src/ and the bench children (tsc, incremental)…\n');
      await buildChildren();
    }
    const sink = await startChild('sink', [], { runner: options.runner });
    children.push(sink);
    const configPath = join(dir, 'relay.yaml');
    await writeFile(
      configPath,
      stringify({
        hostname: 'relay.soak.test',
        stateDir: join(dir, 'state'),
        listeners: [{ name: 'mta', host: '127.0.0.1', port: 0 }],
        metrics: { host: '127.0.0.1', port: 0 },
        routes: [{ domains: ['*'], nextHop: `127.0.0.1:${sink.port}`, tls: 'may' }],
        log: { level: 'warn' },
      }),
    );
    const relay = await startChild('relay-process', [configPath], { runner: options.runner });
    children.push(relay);
    const message = buildMessage(options.size);
    const before = await sink.request({ kind: 'stats' }, 'stats');
    await relay.request({ kind: 'lag-reset' }, 'lag');
    const t0 = performance.now();
    const sampler = startSampler(relay, sink, options.sampleSeconds, t0);
    let sent = 0;
    let round = 0;
    while (sent < options.messages) {
      round += 1;
      // Each session's warm-up message counts: the soak is about volume, not latency.
      const sessions = await withDeadline(
        openSessions(relay.port, options.connections, message),
        30_000,
        `round ${round}: opening sessions`,
      );
      sent += sessions.length;
      const load = Math.max(0, Math.min(options.round, options.messages - sent));
      await withDeadline(sendLoad(sessions, load, message), 120_000, `round ${round}: the load`);
      sent += load;
      await closeSessions(sessions);
    }
    const seconds = (performance.now() - t0) / 1000;
    const samples = await sampler.stop();
    const after = await sink.request({ kind: 'stats' }, 'stats');
    const delivered = after.delivered - before.delivered;
    if (delivered !== sent)
      throw new Error(`the sink got ${delivered} messages, ${sent} were sent`);
    process.stdout.write(
      `\nsoak: ${sent} messages, ${round} rounds of ${options.connections} fresh STARTTLS sessions, ${options.size} bytes each, STARTTLS on both hops\n\n`,
    );
    process.stdout.write(render(samples, { messages: sent, seconds }));
    return 0;
  } finally {
    await Promise.allSettled(children.map((c) => c.stop()));
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`\nsoak failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
