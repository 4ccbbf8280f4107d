// A real Prometheus on 127.0.0.1 scrapes a running relay with the rules file loaded: relayed messages turn into recording-rule values, every rule evaluates without error, and every dashboard query runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { stringify } from 'yaml';
import { DASHBOARD_FILE } from '../../deploy/grafana/dashboard.js';
import { RULES_FILE } from '../../deploy/prometheus/prometheusrule.js';
import { startRawHop } from '../support/raw-hop.js';
import { startTestRelay, type TestRelay } from '../support/relay.js';
import { settle, tlsClient, transact } from '../support/scenario.js';
import { describeRun, requireTools, runTool } from '../support/tools.js';

const JOB = 'starttls-relay';
const POLL_LIMIT_MS = 30_000;

interface RuleStatus {
  name: string;
  health: string;
  lastError?: string;
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls `probe` every 200 ms until it returns a value, for at most 30 s. */
async function poll<T>(probe: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = Date.now() + POLL_LIMIT_MS;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined || Date.now() > deadline) return value;
    await settle(200);
  }
}

class PrometheusApi {
  constructor(private readonly base: string) {}

  async get(path: string): Promise<{ status: string; data: unknown; error?: string }> {
    const res = await fetch(`${this.base}${path}`, { signal: AbortSignal.timeout(5000) });
    return (await res.json()) as { status: string; data: unknown; error?: string };
  }

  async query(expr: string): Promise<{ status: string; samples: Sample[]; error?: string }> {
    const body = await this.get(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    const data = body.data as { result?: Sample[] } | undefined;
    return {
      status: body.status,
      samples: data?.result ?? [],
      ...(body.error ? { error: body.error } : {}),
    };
  }

  /** Label set (without job) → value, for an instant vector. */
  async values(expr: string): Promise<Map<string, string>> {
    const { samples } = await this.query(expr);
    return new Map(
      samples.map((s) => {
        const labels = Object.entries(s.metric).filter(([k]) => k !== '__name__' && k !== 'job');
        return [JSON.stringify(Object.fromEntries(labels)), s.value[1]];
      }),
    );
  }
}

/** One relayed message: STARTTLS in, plaintext out (the raw next hop offers no STARTTLS). */
async function relayOne(t: Test, relay: TestRelay): Promise<void> {
  const c = await tlsClient(t, relay.port);
  const replies = await transact(c, 'a@origin.test', ['b@dest.test'], 'Subject: scrape\r\n\r\nhi');
  t.equal(replies.final, '250 2.0.0 Ok: queued', 'relayed');
  await c.send('QUIT');
  c.close();
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

void t.test('Prometheus scrapes the relay and the recording rules evaluate', async (t) => {
  const tools = requireTools(t, [
    ['prometheus', 'prometheus'],
    ['promtool', 'prometheus'],
  ]);
  if (tools === undefined) return;

  const hop = await startRawHop();
  t.teardown(() => hop.close());
  const relay = await startTestRelay(
    {
      routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}` }],
      // One next-hop session per message, so the session-ratio rules have sessions to count.
      outbound: { connectionCache: { enabled: false } },
    },
    { processMetrics: true },
  );
  t.teardown(() => relay.close());

  const dir = await mkdtemp(join(tmpdir(), 'prometheus-e2e-'));
  const prometheus: { child?: ChildProcess } = {};
  // Prometheus first, then its storage.
  t.teardown(async () => {
    if (prometheus.child) await stop(prometheus.child);
    await rm(dir, { recursive: true, force: true });
  });
  const config = join(dir, 'prometheus.yml');
  await writeFile(
    config,
    stringify({
      global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
      rule_files: [RULES_FILE],
      scrape_configs: [
        { job_name: JOB, static_configs: [{ targets: [`127.0.0.1:${relay.metricsPort}`] }] },
      ],
    }),
  );
  const checkArgs = ['check', 'config', '--lint=all', '--lint-fatal', config];
  const check = await runTool(tools.promtool, checkArgs);
  t.equal(check.code, 0, 'promtool check config: the config and its rule file');
  if (check.code !== 0) {
    t.comment(describeRun(tools.promtool, checkArgs, check));
    return;
  }

  const port = await freePort();
  const child = spawn(
    tools.prometheus,
    [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  prometheus.child = child;
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString('utf8')).slice(-8192);
  });
  const api = new PrometheusApi(`http://127.0.0.1:${port}`);
  const diagnose = (): void => t.comment(`prometheus log:\n${log}`);

  const ready = await poll(async () => {
    const res = await fetch(`http://127.0.0.1:${port}/-/ready`, {
      signal: AbortSignal.timeout(1000),
    });
    return res.ok ? true : undefined;
  });
  t.ok(ready, 'Prometheus is ready');
  if (!ready) return diagnose();

  // A labelled counter appears at its first increment, and rate() needs two samples of it: one
  // message creates the series, a second one after a scrape makes the rates non-zero.
  await relayOne(t, relay);
  const scraped = await poll(async () => {
    const { samples } = await api.query(`starttls_relay_inbound_sessions_total{job="${JOB}"}`);
    return samples.length > 0 ? samples : undefined;
  });
  t.ok(scraped, 'the first session is scraped');
  if (!scraped) return diagnose();
  const up = await api.values(`up{job="${JOB}"}`);
  t.same([...up.values()], ['1'], 'the target is up');
  await relayOne(t, relay);

  const coverage = await poll(async () => {
    const sessions = await api.values(
      'job_listener:starttls_relay_inbound_tls_sessions_per_sessions:ratio_rate5m',
    );
    const messages = await api.values(
      'job_hop:starttls_relay_tls_messages_per_messages:ratio_rate5m',
    );
    return sessions.get('{"listener":"mta"}') === '1' &&
      messages.get('{"hop":"inbound"}') === '1' &&
      messages.get('{"hop":"outbound"}') === '0'
      ? { sessions, messages }
      : undefined;
  });
  t.ok(coverage, 'inbound TLS session coverage 1; message coverage inbound 1, outbound 0');
  if (!coverage) return diagnose();
  t.same(
    await api.values('job:starttls_relay_outbound_encrypted_sessions_per_sessions:ratio_rate5m'),
    new Map([['{}', '0']]),
    'next-hop sessions encrypted: 0 (the next hop offers no STARTTLS)',
  );

  const rules = await api.get('/api/v1/rules');
  const groups = (rules.data as { groups: Array<{ rules: RuleStatus[] }> }).groups;
  const loaded = groups.flatMap((g) => g.rules);
  t.ok(loaded.length >= 15, `${loaded.length} rules loaded`);
  for (const rule of loaded)
    t.not(
      rule.health,
      'err',
      `${rule.name} evaluates${rule.lastError ? `: ${rule.lastError}` : ''}`,
    );
  const alerts = await api.get('/api/v1/alerts');
  t.same((alerts.data as { alerts: unknown[] }).alerts, [], 'no alert pending or firing');

  const dashboard = JSON.parse(await readFile(DASHBOARD_FILE, 'utf8')) as {
    panels: Array<{ title?: string; targets?: Array<{ expr?: string }> }>;
  };
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) {
      const expr = (target.expr ?? '')
        .replace(/\$__(rate_interval|interval|range)\b/g, '1m')
        .replace(/\$\{?\w+\}?/g, '.*');
      const result = await api.query(expr);
      t.equal(
        result.status,
        'success',
        `dashboard "${panel.title ?? ''}" runs${result.error ? `: ${result.error}` : ''}`,
      );
    }
  }
});
