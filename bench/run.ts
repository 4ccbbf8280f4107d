/** `npm run bench`: client → sink (the ceiling) against client → relay → sink, STARTTLS on every hop. */
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { parseBenchArgs, type BenchOptions } from './args.js';
import { buildChildren, startChild, type Child } from './children.js';
import { buildMessage } from './client.js';
import { measureRun, type RunResult, type SteadyHooks } from './measure.js';
import { summariseProfile } from './profile.js';
import { renderProfile, renderResults } from './report.js';

/** A stuck run fails instead of hanging: this much time per 1000 messages, and at least a minute. */
function loadDeadlineMs(options: BenchOptions): number {
  return Math.max(60_000, options.messages * 30);
}

function relayConfig(dir: string, sinkPort: number): string {
  return stringify({
    hostname: 'relay.bench.test',
    stateDir: join(dir, 'state'),
    listeners: [{ name: 'mta', host: '127.0.0.1', port: 0 }],
    metrics: { host: '127.0.0.1', port: 0 },
    routes: [{ domains: ['*'], nextHop: `127.0.0.1:${sinkPort}`, tls: 'may' }],
    log: { level: 'warn' },
  });
}

async function main(): Promise<number> {
  const options = parseBenchArgs(process.argv.slice(2));
  if (!options) return 0;
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'starttls-relay-bench-'));
  const children = new Set<Child>();
  const track = (child: Child): Child => {
    children.add(child);
    return child;
  };
  const release = async (child: Child): Promise<void> => {
    children.delete(child);
    await child.stop();
  };
  try {
    if (options.runner === 'compiled') {
      process.stderr.write('compiling src/ and the bench children (tsc, incremental)…\n');
      await buildChildren();
    }
    const sink = track(await startChild('sink', [], { runner: options.runner }));
    const configPath = join(dir, 'relay.yaml');
    await writeFile(configPath, relayConfig(dir, sink.port));
    const message = buildMessage(options.size);
    const base = {
      connections: options.connections,
      messages: options.messages,
      message,
      sink,
    };
    const deadline = loadDeadlineMs(options);

    const relayRun = async (aroundSteady?: (relay: Child) => SteadyHooks): Promise<RunResult> => {
      const relay = track(
        await startChild('relay-process', [configPath], { runner: options.runner }),
      );
      try {
        return await measureRun(
          {
            ...base,
            port: relay.port,
            relay,
            ...(aroundSteady ? { aroundSteady: aroundSteady(relay) } : {}),
          },
          deadline,
        );
      } finally {
        await release(relay);
      }
    };

    const ceiling: RunResult[] = [];
    const relayed: RunResult[] = [];
    const ratios: number[] = [];
    for (let run = 1; run <= options.runs; run += 1) {
      process.stderr.write(`run ${run}/${options.runs}: ceiling…`);
      const c = await measureRun({ ...base, port: sink.port }, deadline);
      process.stderr.write(` ${Math.round(c.msgsPerSecond)} msgs/s; relay…`);
      const r = await relayRun();
      process.stderr.write(` ${Math.round(r.msgsPerSecond)} msgs/s\n`);
      ceiling.push(c);
      relayed.push(r);
      ratios.push(r.msgsPerSecond / c.msgsPerSecond);
    }

    process.stdout.write(
      `\n${renderResults(
        options,
        { name: 'ceiling: client → sink', runs: ceiling },
        { name: 'relay: client → relay → sink', runs: relayed },
        ratios,
      )}`,
    );

    if (options.profile) {
      process.stderr.write('profiling one more relay run…\n');
      const profileDir = join(dir, 'profile');
      const path = join(profileDir, 'relay.cpuprofile');
      await mkdir(profileDir, { recursive: true });
      await relayRun((relay) => ({
        before: async () => {
          await relay.request({ kind: 'profile-start' }, 'profiled');
        },
        after: async () => {
          await relay.request({ kind: 'profile-stop', path }, 'profiled');
        },
      }));
      if ((await readdir(profileDir)).length === 0) throw new Error('no profile was written');
      process.stdout.write(`\n${renderProfile(summariseProfile(path))}`);
      if (options.profileOut !== undefined) {
        await copyFile(path, resolve(options.profileOut));
        process.stdout.write(`profile kept as ${resolve(options.profileOut)}\n`);
      }
    }
    process.stdout.write(`\nbench time ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    return 0;
  } finally {
    await Promise.allSettled([...children].map((c) => c.stop()));
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`\nbench failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
