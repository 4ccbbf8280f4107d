// The Prometheus rules: promtool's lint and unit tests pass, every alert is tested firing and not firing and has a runbook, every metric and label they read exists, and the PrometheusRule carries the same groups.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import t from 'tap';
import { parse } from 'yaml';
import {
  PROMETHEUS_RULE_FILE,
  RULES_FILE,
  prometheusRuleYaml,
} from '../../deploy/prometheus/prometheusrule.js';
import { Metrics } from '../../src/telemetry/metrics.js';
import { describeRun, requireTool, runTool } from '../support/tools.js';

const RULES_TEST_FILE = fileURLToPath(
  new URL('../../deploy/prometheus/starttls-relay-rules.test.yml', import.meta.url),
);
const DOC = new URL('../../docs/metrics.md', import.meta.url);

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}
interface RuleTests {
  tests: Array<{
    promql_expr_test?: Array<{ expr: string }>;
    alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }>;
  }>;
}

async function rules(): Promise<Rule[]> {
  const file = parse(await readFile(RULES_FILE, 'utf8')) as RuleFile;
  return file.groups.flatMap((g) => g.rules);
}

/** Label names each metric of the relay is declared with (both registries). */
function declaredMetrics(): Map<string, string[]> {
  const metrics = new Metrics({ processMetrics: true });
  const declared = new Map<string, string[]>();
  for (const registry of [metrics.registry, metrics.processRegistry]) {
    for (const m of registry.getMetricsAsArray()) {
      const labelNames = (m as unknown as { labelNames?: unknown }).labelNames;
      declared.set(m.name, Array.isArray(labelNames) ? labelNames.map(String) : []);
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

void t.test('promtool check rules --lint=all --lint-fatal', async (t) => {
  const promtool = requireTool(t, 'promtool', 'prometheus');
  if (promtool === undefined) return;
  const args = ['check', 'rules', '--lint=all', '--lint-fatal', RULES_FILE];
  const run = await runTool(promtool, args);
  t.equal(run.code, 0, 'exit 0');
  t.match(run.stdout, /SUCCESS: \d+ rules found/);
  t.equal(run.stderr, '', 'no warning');
  if (run.code !== 0) t.comment(describeRun(promtool, args, run));
});

void t.test('promtool test rules: the unit tests of every rule pass', async (t) => {
  const promtool = requireTool(t, 'promtool', 'prometheus');
  if (promtool === undefined) return;
  const args = ['test', 'rules', RULES_TEST_FILE];
  const run = await runTool(promtool, args);
  t.equal(run.code, 0, 'exit 0');
  t.match(run.stdout, /SUCCESS/);
  if (run.code !== 0) t.comment(describeRun(promtool, args, run));
});

void t.test(
  'every recording rule has a value test, every alert a firing and a quiet test',
  async (t) => {
    const all = await rules();
    const tests = (parse(await readFile(RULES_TEST_FILE, 'utf8')) as RuleTests).tests;
    const exprs = tests.flatMap((x) => x.promql_expr_test ?? []).map((x) => x.expr);
    const alertTests = tests.flatMap((x) => x.alert_rule_test ?? []);
    for (const rule of all) {
      if (rule.record !== undefined) {
        const name = rule.record;
        t.ok(
          exprs.some((e) => e === name || e.startsWith(`${name}{`)),
          `${name} has a value test`,
        );
      }
      if (rule.alert !== undefined) {
        const mine = alertTests.filter((x) => x.alertname === rule.alert);
        t.ok(
          mine.some((x) => (x.exp_alerts ?? []).length > 0),
          `${rule.alert} is tested firing`,
        );
        t.ok(
          mine.some((x) => (x.exp_alerts ?? []).length === 0),
          `${rule.alert} is tested not firing`,
        );
      }
    }
  },
);

void t.test(
  'every alert waits, has a severity, says what and why, and has a runbook',
  async (t) => {
    const doc = await readFile(DOC, 'utf8');
    const alerts = (await rules()).filter((r) => r.alert !== undefined);
    t.ok(alerts.length >= 8, `${alerts.length} alerts`);
    for (const rule of alerts) {
      const name = rule.alert ?? '';
      t.match(rule.for, /^\d+[smh]$/, `${name} has for:`);
      t.match(rule.labels?.severity, /^(warning|critical)$/, `${name} has a severity`);
      t.ok(rule.annotations?.summary, `${name} has a summary`);
      t.ok(rule.annotations?.description, `${name} has a description`);
      t.equal(
        rule.annotations?.runbook,
        `docs/metrics.md#${name.toLowerCase()}`,
        `${name} points at its runbook`,
      );
      t.ok(doc.includes(`\n### ${name}\n`), `docs/metrics.md has a runbook section for ${name}`);
    }
    for (const rule of (await rules()).filter((r) => r.record !== undefined))
      t.ok(doc.includes(`\`${rule.record ?? ''}\``), `docs/metrics.md lists ${rule.record ?? ''}`);
  },
);

void t.test('every metric and label the rules read is declared by the relay', async (t) => {
  const declared = declaredMetrics();
  const recorded = new Set((await rules()).map((r) => r.record).filter((r) => r !== undefined));
  let count = 0;
  for (const rule of await rules()) {
    const refs = references(rule.expr);
    const known = new Set(['job', 'instance']);
    for (const [metric, labels] of refs) {
      count++;
      const labelNames = declared.get(metric);
      t.ok(labelNames, `${rule.record ?? rule.alert ?? ''}: ${metric} is declared`);
      for (const l of labelNames ?? []) known.add(l);
      for (const l of labels)
        t.ok(
          l === 'job' || l === 'instance' || labelNames?.includes(l),
          `${metric} has label ${l}`,
        );
    }
    // Grouping labels must exist on what is grouped, or come from a recording rule's output.
    const readsRecording = [...recorded].some((r) => rule.expr.includes(r));
    if (!readsRecording) {
      for (const m of rule.expr.matchAll(/\b(?:by|on)\s*\(([^)]*)\)/g))
        for (const l of (m[1] ?? '').split(',').map((s) => s.trim()))
          if (l !== '') t.ok(known.has(l), `${rule.record ?? rule.alert ?? ''} groups by ${l}`);
    }
  }
  t.ok(count > 0, `${count} metric references checked`);
});

void t.test('the PrometheusRule carries the rules file groups exactly, and is valid', async (t) => {
  const fromRules = (parse(await readFile(RULES_FILE, 'utf8')) as RuleFile).groups;
  const text = await readFile(PROMETHEUS_RULE_FILE, 'utf8');
  const resource = parse(text) as { spec?: { groups?: unknown } };
  t.same(resource.spec?.groups, fromRules, 'spec.groups equal the rules file groups');
  t.doesNotThrow(
    () =>
      new PrometheusRule(resource as ConstructorParameters<typeof PrometheusRule>[0]).validate(),
    'valid against the prometheus-operator CRD schema',
  );
  t.equal(
    text,
    await prometheusRuleYaml(),
    'no drift: run `npx tsx deploy/prometheus/prometheusrule.ts` after editing the rules',
  );
});
