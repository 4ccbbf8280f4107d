/**
 * `npm run bench`: scenarios a–e of issue #8, each run against the ceiling (straight into the
 * sink), the relay and a Postfix relay peer, alternating, into one table.
 */
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { stringify } from 'yaml';
import { parseBenchArgs, type BenchOptions } from './args.js';
import { buildChildren, startChild, type Child } from './children.js';
import { buildMessage } from './client.js';
import { measureRun } from './measure.js';
import { postfixMissing, startPostfixPeer, type PostfixPeer } from './postfix-peer.js';
import { summariseProfile } from './profile.js';
import {
  renderCpuBreakdown,
  renderProfile,
  renderScenarios,
  type ScenarioResults,
} from './report.js';
import { runScenario, type ScenarioRunResult, type Subject } from './scenario-run.js';
import { scenario as defineScenario, WARM_UP, type Scenario } from './scenarios.js';
import { renderSweep, runSweep } from './sweep.js';

/** A stuck run fails instead of hanging: this much time per message, and at least two minutes. */
function loadDeadlineMs(s: Scenario): number {
  return Math.max(120_000, s.messages * 60);
}

function relayConfig(
  dir: string,
  sinkPort: number,
  tls: boolean,
  sessions: number,
  name: string,
  workers: number | 'auto',
): string {
  return stringify({
    hostname: 'relay.bench.test',
    workers,
    // One state dir per scenario: the TLS history of a must not call d's plaintext a downgrade.
    stateDir: join(dir, `state-${name}`),
    // An internal listener: no early-talker pause (Postfix without postscreen has none either).
    listeners: [{ name: 'mta', host: '127.0.0.1', port: 0, greetingDelayMs: 0 }],
    metrics: { host: '127.0.0.1', port: 0 },
    routes: [{ domains: ['*'], nextHop: `127.0.0.1:${sinkPort}`, tls: tls ? 'may' : 'none' }],
    // Every bench client comes from 127.0.0.1: room for all of e's sessions.
    limits: { maxSessions: sessions + 100, maxSessionsPerAddress: sessions + 100 },
    log: { level: 'warn' },
  });
}

function say(text: string): void {
  process.stderr.write(text);
}

async function main(): Promise<number> {
  const options = parseBenchArgs(process.argv.slice(2));
  if (!options) return 0;
  const started = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'starttls-relay-bench-'));
  const children = new Set<Child>();
  const peers = new Set<PostfixPeer>();
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
      say('compiling src/ and the bench children (tsc, incremental)…\n');
      await buildChildren();
    }
    const sink = track(await startChild('sink', [], { runner: options.runner }));
    const missing = options.postfix ? postfixMissing() : 'left out (--no-postfix)';
    const defaults = {
      connections: options.connections,
      size: options.size,
      largeSize: options.largeSize,
      sessions: options.sessions,
      ...(options.messagesOverride !== undefined ? { messages: options.messagesOverride } : {}),
      ...(options.warmUpOverride !== undefined ? { warmUp: options.warmUpOverride } : {}),
    };
    const results: ScenarioResults[] = [];

    const relayConfigPath = async (s: Scenario): Promise<string> => {
      const path = join(dir, `relay-${s.id}.yaml`);
      await writeFile(
        path,
        relayConfig(dir, sink.port, s.tls, options.sessions, s.id, options.workers),
      );
      return path;
    };

    for (const id of options.scenarios) {
      const s = defineScenario(id, defaults);
      const message = buildMessage(s.size);
      const configPath = await relayConfigPath(s);
      let peer: PostfixPeer | undefined;
      if (missing === undefined) {
        say(`${s.title}: starting Postfix…\n`);
        peer = await startPostfixPeer(sink.port, {
          tls: s.tls,
          maxProcesses: options.sessions + 100,
        });
        peers.add(peer);
      }
      const runs = {
        ceiling: [] as ScenarioRunResult[],
        relay: [] as ScenarioRunResult[],
        postfix: [] as ScenarioRunResult[],
      };
      const ratios: number[] = [];
      try {
        for (let run = 1; run <= options.runs; run += 1) {
          say(`${s.id} run ${run}/${options.runs}: ceiling…`);
          const c = await runScenario(
            s,
            { kind: 'ceiling', port: sink.port },
            sink,
            message,
            loadDeadlineMs(s),
          );
          runs.ceiling.push(c);
          say(` ${Math.round(c.msgsPerSecond)}/s; relay…`);
          const relay = track(
            await startChild('relay-process', [configPath], { runner: options.runner }),
          );
          let r: ScenarioRunResult;
          try {
            r = await runScenario(
              s,
              { kind: 'relay', port: relay.port, relay },
              sink,
              message,
              loadDeadlineMs(s),
            );
          } finally {
            await release(relay);
          }
          runs.relay.push(r);
          say(` ${Math.round(r.msgsPerSecond)}/s`);
          if (peer) {
            say('; Postfix…');
            const subject: Subject = { kind: 'postfix', port: peer.port, postfix: peer };
            const p = await runScenario(s, subject, sink, message, loadDeadlineMs(s));
            runs.postfix.push(p);
            ratios.push(r.msgsPerSecond / p.msgsPerSecond);
            say(` ${Math.round(p.msgsPerSecond)}/s`);
          }
          say('\n');
        }
      } finally {
        if (peer) {
          peers.delete(peer);
          await peer.stop();
        }
      }
      results.push({
        scenario: s,
        subjects: [
          { kind: 'ceiling', runs: runs.ceiling },
          { kind: 'relay', runs: runs.relay },
          missing === undefined
            ? { kind: 'postfix', runs: runs.postfix }
            : { kind: 'postfix', runs: [], missing },
        ],
        relayOverPostfix: ratios,
      });
    }

    process.stdout.write(`\n${renderScenarios(options, results)}\n`);
    process.stdout.write(`Where the CPU went:\n\n${renderCpuBreakdown(results)}\n`);
    if (options.sweep) {
      // A sink of its own: after e's thousand sessions the shared one ran every size slower.
      const sweepSink = track(await startChild('sink', [], { runner: options.runner }));
      const configPath = join(dir, 'relay-sweep.yaml');
      await writeFile(
        configPath,
        relayConfig(dir, sweepSink.port, true, options.sessions, 'sweep', options.workers),
      );
      const rows = await runSweep(
        options.connections,
        sweepSink,
        async () =>
          track(await startChild('relay-process', [configPath], { runner: options.runner })),
        release,
        say,
        options.warmUpOverride,
      );
      await release(sweepSink);
      process.stdout.write(`\nMessage size sweep:\n\n${renderSweep(rows)}\n`);
    }

    if (options.profile) await profileRun(options, dir, sink, track, release);
    process.stdout.write(`\nbench time ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
    return 0;
  } finally {
    await Promise.allSettled([...peers].map((p) => p.stop()));
    await Promise.allSettled([...children].map((c) => c.stop()));
    await rm(dir, { recursive: true, force: true });
  }
}

/** One more relay run of scenario a's load with the V8 profiler on during the steady part. */
async function profileRun(
  options: BenchOptions,
  dir: string,
  sink: Child,
  track: (c: Child) => Child,
  release: (c: Child) => Promise<void>,
): Promise<void> {
  say('profiling one more relay run (scenario a)…\n');
  const configPath = join(dir, 'relay-profile.yaml');
  // The V8 profiler sees one process: the profiled relay runs without workers.
  await writeFile(configPath, relayConfig(dir, sink.port, true, options.sessions, 'profile', 1));
  const profileDir = join(dir, 'profile');
  const path = join(profileDir, 'relay.cpuprofile');
  await mkdir(profileDir, { recursive: true });
  const relay = track(await startChild('relay-process', [configPath], { runner: options.runner }));
  try {
    await measureRun(
      {
        port: relay.port,
        connections: options.connections,
        messages: options.messages,
        warmUp: options.warmUpOverride ?? WARM_UP.a,
        message: buildMessage(options.size),
        sink,
        relay,
        aroundSteady: {
          before: async () => {
            await relay.request({ kind: 'profile-start' }, 'profiled');
          },
          after: async () => {
            await relay.request({ kind: 'profile-stop', path }, 'profiled');
          },
        },
      },
      Math.max(120_000, options.messages * 60),
    );
  } finally {
    await release(relay);
  }
  if ((await readdir(profileDir)).length === 0) throw new Error('no profile was written');
  process.stdout.write(`\n${renderProfile(summariseProfile(path))}`);
  if (options.profileOut !== undefined) {
    await copyFile(path, resolve(options.profileOut));
    process.stdout.write(`profile kept as ${resolve(options.profileOut)}\n`);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(`\nbench failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
