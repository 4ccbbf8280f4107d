/** The bench's child processes: compiled once with tsc (or run under tsx), forked with IPC, stopped. */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isChildMessage, type ChildMessage, type ParentMessage } from './ipc.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH_DIR, '..');
/** Compiled children live outside bench/ so lint and prettier never see them (see tsconfig.relay.json). */
const BUILD_DIR = join(ROOT, 'node_modules', '.cache', 'starttls-relay-bench');

export type Runner = 'compiled' | 'tsx';

/** Compiles src/ and the child entry points (incremental: a few seconds when nothing changed). */
export async function buildChildren(): Promise<void> {
  mkdirSync(BUILD_DIR, { recursive: true });
  // Packages under node_modules are CommonJS unless they say otherwise.
  writeFileSync(join(BUILD_DIR, 'package.json'), '{ "type": "module" }\n');
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const proc = spawn(process.execPath, [tsc, '-p', join(BENCH_DIR, 'tsconfig.relay.json')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const code = await new Promise<number | null>((done) => proc.once('close', done));
  // 2: type errors, output still emitted (e.g. a change in progress elsewhere in src/).
  if (code === 2) process.stderr.write('tsc reported type errors; benchmarking the emitted code\n');
  else if (code !== 0) throw new Error(`tsc failed building the bench children (exit ${code})`);
}

export interface Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly port: number;
  /** Sends `message` and resolves with the child's next message of kind `reply`. */
  request<K extends ChildMessage['kind']>(
    message: ParentMessage,
    reply: K,
  ): Promise<Extract<ChildMessage, { kind: K }>>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

function nextMessage<K extends ChildMessage['kind']>(
  proc: ChildProcess,
  kind: K,
  timeoutMs: number,
): Promise<Extract<ChildMessage, { kind: K }>> {
  return new Promise((resolvePromise, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      proc.off('message', onMessage);
      proc.off('exit', onExit);
    };
    const onMessage = (m: unknown): void => {
      if (isChildMessage(m) && m.kind === kind) {
        cleanup();
        resolvePromise(m as Extract<ChildMessage, { kind: K }>);
      }
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`child ${proc.pid} exited (${code}) before sending ${kind}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`child ${proc.pid}: no ${kind} within ${timeoutMs} ms`));
    }, timeoutMs);
    proc.on('message', onMessage);
    proc.once('exit', onExit);
  });
}

/** Forks bench/`name` with `args`, waiting for its `ready` message. */
export async function startChild(
  name: 'sink' | 'relay-process',
  args: readonly string[],
  options: { readonly runner: Runner; readonly execArgv?: readonly string[] },
): Promise<Child> {
  const script =
    options.runner === 'compiled'
      ? join(BUILD_DIR, 'bench', `${name}.js`)
      : join(BENCH_DIR, `${name}.ts`);
  const execArgv = [
    ...(options.runner === 'tsx' ? ['--import', 'tsx'] : []),
    ...(options.execArgv ?? []),
  ];
  const proc = fork(script, [...args], {
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((done) => proc.once('exit', () => done()));
  const stop = async (graceMs = 5000): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  try {
    const ready = await nextMessage(proc, 'ready', 30_000);
    if (proc.pid === undefined) throw new Error(`${name}: no pid`);
    return {
      proc,
      pid: proc.pid,
      port: ready.port,
      stop,
      request(message, reply) {
        const answer = nextMessage(proc, reply, 30_000);
        proc.send(message);
        return answer;
      },
    };
  } catch (err) {
    await stop(1000);
    throw err;
  }
}
