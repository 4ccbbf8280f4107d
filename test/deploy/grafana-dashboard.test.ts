// The Grafana dashboard: the committed JSON is what deploy/grafana/dashboard.ts builds, every panel query is PromQL that promtool accepts, reads only metrics and labels the relay declares, and follows the dashboard conventions.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parse, stringify } from 'yaml';
import { DASHBOARD_FILE, buildDashboard, dashboardJson } from '../../deploy/grafana/dashboard.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { describeRun, findTool, requireTool, runTool } from '../support/tools.js';

interface Target {
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
  fieldConfig?: { defaults?: { unit?: string; min?: number; max?: number } };
}
interface DashboardJson {
  uid?: string;
  panels?: Panel[];
  templating?: { list?: Array<{ type: string; name: string; query?: unknown }> };
}

async function committed(): Promise<DashboardJson> {
  return JSON.parse(await readFile(DASHBOARD_FILE, 'utf8')) as DashboardJson;
}

function panels(dashboard: DashboardJson): Panel[] {
  return (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
}

/** Every panel query, with the panel's title. */
function queries(dashboard: DashboardJson): Array<{ title: string; expr: string }> {
  return panels(dashboard).flatMap((p) =>
    (p.targets ?? []).map((target) => ({ title: p.title ?? p.type, expr: target.expr ?? '' })),
  );
}

/** Grafana's variables replaced the way promtool can parse: ranges become 5m, filters `.*`. */
function asPromql(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m').replace(/\$\{?\w+\}?/g, '.*');
}

/** Label names each metric of the relay is declared with (both registries). */
function declaredMetrics(): Map<string, { type: string; labels: string[] }> {
  const metrics = new Metrics({ processMetrics: true });
  const declared = new Map<string, { type: string; labels: string[] }>();
  for (const registry of [metrics.registry, metrics.processRegistry]) {
    for (const m of registry.getMetricsAsArray()) {
      const labelNames = (m as unknown as { labelNames?: unknown }).labelNames;
      const labels = Array.isArray(labelNames) ? labelNames.map(String) : [];
      const type = (m as unknown as { type?: string }).type ?? '';
      declared.set(m.name, { type, labels });
      if (type === 'histogram')
        for (const suffix of ['_bucket', '_sum', '_count'])
          declared.set(`${m.name}${suffix}`, {
            type: 'counter',
            labels: suffix === '_bucket' ? [...labels, 'le'] : labels,
          });
    }
  }
  return declared;
}

/** Our metric names in a PromQL expression, and the label names its matchers use, per metric. */
function references(expr: string): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  for (const m of expr.matchAll(/(?<![\w:])(starttls_relay_[a-z0-9_]+)(?![\w:])(\{[^}]*\})?/g)) {
    const labels = found.get(m[1] ?? '') ?? new Set<string>();
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)/g))
      labels.add(l[1] ?? '');
    found.set(m[1] ?? '', labels);
  }
  return found;
}

void t.test('the committed dashboard is what the generator builds now', async (t) => {
  const built = JSON.parse(JSON.stringify(buildDashboard())) as DashboardJson;
  t.same(await committed(), built, 'same dashboard model');
  t.equal(
    await readFile(DASHBOARD_FILE, 'utf8'),
    await dashboardJson(),
    'same text: run `npx tsx deploy/grafana/dashboard.ts` after editing the generator',
  );
});

void t.test('dashboard conventions', async (t) => {
  const dashboard = await committed();
  t.equal(dashboard.uid, 'starttls-relay', 'a stable uid');
  const variables = dashboard.templating?.list ?? [];
  t.match(variables[0], { type: 'datasource', name: 'datasource', query: 'prometheus' });
  t.same(
    variables.map((v) => v.name),
    ['datasource', 'job', 'instance', 'listener'],
    'filters by job, instance and listener',
  );
  const all = panels(dashboard).filter((p) => p.type !== 'row');
  t.ok(all.length >= 20, `${all.length} panels`);
  for (const p of all) {
    const title = p.title ?? '';
    t.same(
      p.datasource,
      { type: 'prometheus', uid: '${datasource}' },
      `${title}: the chosen data source`,
    );
    t.ok((p.targets ?? []).length > 0, `${title}: has queries`);
    for (const target of p.targets ?? []) {
      t.same(
        target.datasource,
        { type: 'prometheus', uid: '${datasource}' },
        `${title}: query data source`,
      );
      const expr = target.expr ?? '';
      t.notMatch(
        expr,
        /\[\d+[smhd]\]/,
        `${title}: no hard-coded range, $__rate_interval or $__range`,
      );
      t.match(
        expr,
        /job=~"\$job", instance=~"\$instance"/,
        `${title}: filtered by job and instance`,
      );
    }
    if (p.fieldConfig?.defaults?.unit === 'percentunit')
      t.match(p.fieldConfig.defaults, { min: 0, max: 1 }, `${title}: a ratio from 0 to 1`);
  }
  const titles = all.map((p) => p.title ?? '').join('\n');
  for (const topic of [
    /TLS coverage/,
    /handshakes by version and forward secrecy/,
    /handshake failures by reason/,
    /STARTTLS outcomes/,
    /fallbacks/i,
    /Next-hop connection/,
    /Certificate expir/,
    /sessions/i,
    /Bytes relayed/,
    /AUTH attempts by outcome/,
  ])
    t.match(titles, topic, `a panel on ${topic.source}`);
});

void t.test('every panel query is PromQL that promtool accepts', async (t) => {
  const promtool = requireTool(t, 'promtool', 'prometheus');
  if (promtool === undefined) return;
  const all = queries(await committed());
  const dir = await mkdtemp(join(tmpdir(), 'dashboard-promql-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'dashboard-queries.yml');
  // Each query as a recording rule: `check rules` parses and type-checks every expression.
  const rules = {
    groups: [
      {
        name: 'dashboard',
        rules: all.map((q, i) => ({
          record: `dashboard:query_${i}:value`,
          expr: asPromql(q.expr),
        })),
      },
    ],
  };
  await writeFile(file, stringify(rules));
  const args = ['check', 'rules', file];
  const run = await runTool(promtool, args);
  t.equal(run.code, 0, 'exit 0');
  t.match(run.stdout, `SUCCESS: ${all.length} rules found`);
  if (run.code !== 0) {
    t.comment(describeRun(promtool, args, run));
    all.forEach((q, i) => t.comment(`query_${i} (${q.title}): ${asPromql(q.expr)}`));
  }
});

void t.test('every metric and label the dashboard reads is declared by the relay', async (t) => {
  const declared = declaredMetrics();
  const dashboard = await committed();
  const variableQueries = (dashboard.templating?.list ?? [])
    .filter((v) => v.type === 'query')
    .map((v) => ({ title: `variable ${v.name}`, expr: String(v.query) }));
  let count = 0;
  for (const { title, expr } of [...queries(dashboard), ...variableQueries]) {
    const known = new Set(['job', 'instance']);
    for (const [metric, labels] of references(expr)) {
      count++;
      const entry = declared.get(metric);
      t.ok(entry, `${title}: ${metric} is declared`);
      for (const l of entry?.labels ?? []) known.add(l);
      for (const l of labels) t.ok(known.has(l), `${title}: ${metric} has label ${l}`);
    }
    const grouping = [
      ...expr.matchAll(/\b(?:by|ignoring|on)\s*\(([^)]*)\)/g),
      ...expr.matchAll(/label_values\([^)]*,\s*(\w+)\)/g),
    ];
    for (const m of grouping)
      for (const l of (m[1] ?? '').split(',').map((s) => s.trim()))
        if (l !== '') t.ok(known.has(l), `${title}: groups by ${l}, a label it reads`);
    for (const legend of expr.matchAll(/\{\{\s*(\w+)\s*\}\}/g))
      t.ok(known.has(legend[1] ?? ''), `${title}: legend label ${legend[1] ?? ''}`);
  }
  t.ok(count > 30, `${count} metric references checked`);
});

void t.test('kustomize packs the dashboard as a ConfigMap for the Grafana sidecar', async (t) => {
  const kubectl = findTool('kubectl');
  if (kubectl === undefined) {
    t.plan(0, 'needs kubectl (with kustomize; not packaged in Debian bookworm)');
    return;
  }
  const dir = fileURLToPath(new URL('../../deploy/grafana', import.meta.url));
  const args = ['kustomize', dir];
  const run = await runTool(kubectl, args);
  t.equal(run.code, 0, 'exit 0');
  if (run.code !== 0) {
    t.comment(describeRun(kubectl, args, run));
    return;
  }
  const configMap = parse(run.stdout) as {
    kind?: string;
    metadata?: { name?: string; labels?: Record<string, string> };
    data?: Record<string, string>;
  };
  t.equal(configMap.kind, 'ConfigMap');
  t.equal(configMap.metadata?.name, 'starttls-relay-dashboard', 'a stable name, no hash suffix');
  t.equal(configMap.metadata?.labels?.grafana_dashboard, '1', 'the sidecar label');
  t.equal(
    configMap.data?.['starttls-relay.json'],
    await readFile(DASHBOARD_FILE, 'utf8'),
    'the dashboard verbatim',
  );
});
