/**
 * @module The relay as a real child process for fault injection: `src/main.ts serve` (under tsx)
 * from a YAML config file, routed to a next hop, so that a test can SIGSTOP and SIGKILL it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Test } from 'tap';
import { stringify } from 'yaml';

const ROOT = resolve(import.meta.dirname, '../..');

export interface RelayProcess {
  readonly pid: number;
  readonly port: number;
  /** Every JSON log line the process wrote so far. */
  readonly logs: Array<Record<string, unknown>>;
  /** Resolves with the signal or exit code once the process is gone. */
  readonly exited: Promise<NodeJS.Signals | number | null>;
  kill(signal: NodeJS.Signals): void;
}

/** A state directory shared by the relays of one test, so the certificate is generated once. */
export async function relayStateDir(t: Test): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fault-relay-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Starts `starttls-relay serve` routing dest.test to 127.0.0.1:`hopPort`; SIGKILLed at teardown. */
export async function spawnRelay(
  t: Test,
  stateDir: string,
  hopPort: number,
): Promise<RelayProcess> {
  const file = join(stateDir, `relay-${hopPort}.yaml`);
  await writeFile(
    file,
    stringify({
      hostname: 'relay.test',
      stateDir,
      listeners: [{ name: 'mta', host: '127.0.0.1', port: 0 }],
      metrics: { host: '127.0.0.1', port: 0 },
      routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hopPort}`, tls: 'may' }],
      // One next-hop session per client session: a kill lands in a known phase of each.
      outbound: { connectionCache: { enabled: false } },
      log: { level: 'info' },
    }),
  );
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/main.ts', '--config', file],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<NodeJS.Signals | number | null>((done) =>
    child.once('exit', (code, signal) => done(signal ?? code)),
  );
  const logs: Array<Record<string, unknown>> = [];
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    // A failing test shows what the relay complained about.
    if (!t.passing())
      for (const entry of logs.filter((l) => l.level !== 'info' && l.event !== 'transaction'))
        t.comment(JSON.stringify(entry));
  });
  const port = await new Promise<number>((resolvePort, reject) => {
    const lines = createInterface({ input: child.stdout ?? process.stdin });
    lines.on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.msg === 'listening' && typeof entry.port === 'number') resolvePort(entry.port);
    });
    void exited.then((how) =>
      reject(new Error(`the relay exited (${String(how)}) before listening`)),
    );
  });
  if (child.pid === undefined) throw new Error('the relay has no pid');
  const pid = child.pid;
  return {
    pid,
    port,
    logs,
    exited,
    kill: (signal) => {
      process.kill(pid, signal);
    },
  };
}
