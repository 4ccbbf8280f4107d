// Worker processes (`workers: 2`): the real command line starts a primary and two relays sharing the listener; mail through both is delivered, /metrics sums them, a ticket from one worker resumes on the other, a killed worker is started again, SIGHUP and SIGTERM reach every worker.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startNextHop, type TestNextHop } from '../support/next-hop.js';
import { readHistoryFile } from '../../src/history/tls-history.js';
import { ROOT, runCli } from '../support/cli.js';
import { generateSelfSigned } from '../support/pki.js';
import { settle, tlsClient, transact } from '../support/scenario.js';
import { starttls } from '../support/starttls-session.js';

interface Cluster {
  readonly proc: ChildProcess;
  readonly stateDir: string;
  readonly configPath: string;
  /** Every JSON log line so far, from the primary and both workers. */
  readonly logs: Array<Record<string, unknown>>;
  readonly port: number;
  readonly metricsPort: number;
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 600 && !check(); i++) await settle(25);
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

async function startCluster(t: Test, hop: TestNextHop): Promise<Cluster> {
  const dir = await mkdtemp(join(tmpdir(), 'relay-workers-'));
  const stateDir = join(dir, 'state');
  const configPath = join(dir, 'relay.yaml');
  await writeFile(
    configPath,
    [
      'hostname: relay.test',
      `stateDir: ${stateDir}`,
      'workers: 2',
      'listeners:',
      '  - { name: mta, host: 127.0.0.1, port: 0, greetingDelayMs: 0 }',
      'routes:',
      `  - { domains: ['*'], nextHop: '127.0.0.1:${hop.port}', tls: may }`,
      'outbound: { connectionCache: { enabled: false } }',
      'metrics: { host: 127.0.0.1, port: 0 }',
      'shutdown: { drainSeconds: 5 }',
    ].join('\n'),
  );
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', configPath], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const logs: Array<Record<string, unknown>> = [];
  let pending = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    let i: number;
    while ((i = pending.indexOf('\n')) >= 0) {
      logs.push(JSON.parse(pending.slice(0, i)) as Record<string, unknown>);
      pending = pending.slice(i + 1);
    }
  });
  const metricsLine = (): Record<string, unknown> | undefined =>
    logs.find((l) => l.msg === 'metrics listening');
  await until(() => metricsLine() !== undefined, 'the primary to serve');
  const listening = logs.filter((l) => l.msg === 'listening');
  return {
    proc,
    stateDir,
    configPath,
    logs,
    port: Number(listening[0]?.port),
    metricsPort: Number(metricsLine()?.port),
  };
}

const metricsText = async (c: Cluster): Promise<string> =>
  (await fetch(`http://127.0.0.1:${c.metricsPort}/metrics`)).text();

/** One sample's value from the exposition, by its exact series text. */
function sample(page: string, series: string): number | undefined {
  const line = page.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Delivers one message over a new STARTTLS session; returns the final reply line. */
async function deliver(t: Test, port: number, n: number): Promise<string | undefined> {
  const c = await tlsClient(t, port);
  const replies = await transact(
    c,
    'a@origin.test',
    [`rcpt${n}@dest.test`],
    `Subject: ${n}\r\n\r\nbody ${n}`,
  );
  await c.send('QUIT');
  c.close();
  return replies.final;
}

void t.test(
  'two workers share the listener, report through the primary, and stop together',
  async (t) => {
    const hop = await startNextHop({
      tls: { kind: 'tls', pair: await generateSelfSigned(['hop.test']) },
    });
    t.teardown(() => hop.close());
    const cluster = await startCluster(t, hop);
    const workers = cluster.logs.filter((l) => l.msg === 'listening').map((l) => l.worker);
    t.same(workers.sort(), [1, 2], 'each worker bound the listener');
    t.equal(
      new Set(cluster.logs.filter((l) => l.msg === 'listening').map((l) => l.port)).size,
      1,
      'on the same port',
    );

    for (let n = 1; n <= 6; n++) {
      t.equal(await deliver(t, cluster.port, n), `250 2.0.0 Ok: queued as Q${n}`);
    }
    t.equal(hop.messages.length, 6, 'the next hop received every message');
    await until(
      () => cluster.logs.filter((l) => l.msg === 'transaction').length === 6,
      'six transaction lines',
    );
    const byWorker = new Set(
      cluster.logs.filter((l) => l.msg === 'transaction').map((l) => l.worker),
    );
    t.same([...byWorker].sort(), [1, 2], 'both workers carried mail (round-robin)');

    const page = await metricsText(cluster);
    t.equal(sample(page, 'starttls_relay_messages_total{outcome="delivered"}'), 6, 'summed');
    t.equal(sample(page, 'starttls_relay_workers'), 2);
    t.equal(sample(page, 'starttls_relay_worker_restarts_total'), 0);
    t.equal((await fetch(`http://127.0.0.1:${cluster.metricsPort}/readyz`)).status, 200);

    // The ticket key is the primary's: a session from one worker resumes on whichever comes next.
    const first = await starttls(cluster.port);
    t.equal(first.reused, false);
    const resumed = [];
    for (let i = 0; i < 4; i++)
      resumed.push((await starttls(cluster.port, { session: first.session })).reused);
    t.same(resumed, [true, true, true, true], 'resumed on both workers');

    // Each worker keeps its outbound state in its own directory.
    await until(
      () => cluster.logs.some((l) => l.msg === 'transaction' && l.worker === 2),
      'worker 2 mail',
    );

    // A worker killed outright is started again and the listener keeps serving.
    const victim = cluster.logs.find((l) => l.msg === 'worker serving' && l.index === 1)?.pid;
    process.kill(Number(victim), 'SIGKILL');
    // Until it is back (1 s later), the other worker serves and the relay stays ready.
    await until(
      () => cluster.logs.some((l) => l.msg === 'worker exited' && l.signal === 'SIGKILL'),
      'the primary to see worker 1 exit',
    );
    t.equal(sample(await metricsText(cluster), 'starttls_relay_workers'), 1, 'one worker serves');
    t.equal((await fetch(`http://127.0.0.1:${cluster.metricsPort}/readyz`)).status, 200);
    for (let n = 7; n <= 8; n++) {
      t.equal(await deliver(t, cluster.port, n), `250 2.0.0 Ok: queued as Q${n}`);
    }
    await until(
      () => cluster.logs.filter((l) => l.msg === 'worker serving' && l.index === 1).length === 2,
      'worker 1 started again',
    );
    for (let n = 9; n <= 10; n++) {
      t.equal(await deliver(t, cluster.port, n), `250 2.0.0 Ok: queued as Q${n}`);
    }
    const after = await metricsText(cluster);
    t.equal(sample(after, 'starttls_relay_worker_restarts_total'), 1);
    t.equal(sample(after, 'starttls_relay_workers'), 2);

    // SIGHUP reaches every worker; SIGTERM drains them all and the primary exits 0.
    cluster.proc.kill('SIGHUP');
    await until(
      () => cluster.logs.filter((l) => l.msg === 'reloading the certificate').length === 2,
      'both workers reloading',
    );
    t.same(
      cluster.logs
        .filter((l) => l.msg === 'reloading the certificate')
        .map((l) => l.worker)
        .sort(),
      [1, 2],
    );
    cluster.proc.kill('SIGTERM');
    const [code] = (await once(cluster.proc, 'exit')) as [number | null];
    t.equal(code, 0, 'the primary exits 0 after its workers');
    const dirs = (await readdir(cluster.stateDir)).filter((d) => d.startsWith('worker-')).sort();
    t.same(dirs, ['worker-1', 'worker-2'], 'one outbound state directory per worker');

    // tls-history reads every worker's history (worker 1's first life, killed, never wrote its own).
    const destination = `[127.0.0.1]:${hop.port}`;
    const perWorker = await Promise.all(
      dirs.map(async (d) => {
        const h = await readHistoryFile(join(cluster.stateDir, d, 'tls-history.json'));
        return h.get(destination)?.sessions.encrypted ?? 0;
      }),
    );
    t.ok(
      perWorker.every((n) => n > 0),
      `each worker recorded sessions (${perWorker.join(' + ')})`,
    );
    const listed = await runCli(['tls-history', '--config', cluster.configPath, '--json']);
    t.equal(listed.code, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as Array<{
      destination: string;
      sessions: Record<string, number>;
      passes: string | null;
    }>;
    t.same(
      rows.map((r) => ({ destination: r.destination, sessions: r.sessions, passes: r.passes })),
      [
        {
          destination,
          sessions: { none: 0, encrypted: perWorker[0]! + perWorker[1]!, verified: 0 },
          passes: 'encrypt',
        },
      ],
      'merged over both workers',
    );
  },
);
