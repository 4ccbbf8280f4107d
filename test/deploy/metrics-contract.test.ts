// The metric contract: a real relay's /metrics after one relayed message passes promtool's lint, and matches docs/metrics.md family for family, type for type, label for label, value for value.
import { readFile } from 'node:fs/promises';
import t from 'tap';
import { startRawHop } from '../support/raw-hop.js';
import { startTestRelay, type TestRelay } from '../support/relay.js';
import { settle, tlsClient, transact } from '../support/scenario.js';
import { describeRun, findTool, runTool } from '../support/tools.js';

const DOC = new URL('../../docs/metrics.md', import.meta.url);
const PREFIX = 'starttls_relay_';

interface Family {
  type: string;
  /** The family's block of the page: HELP, TYPE and samples. */
  text: string;
  samples: Array<{ name: string; labels: Record<string, string> }>;
}

/** The text format 0.0.4, family by family; a histogram's _bucket/_sum/_count join their family. */
function parseExposition(page: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | undefined;
  for (const line of page.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
    if (meta) {
      const [, kind, name = '', rest = ''] = meta;
      current = families.get(name);
      if (!current) {
        current = { type: 'untyped', text: '', samples: [] };
        families.set(name, current);
      }
      if (kind === 'TYPE') current.type = rest;
      current.text += `${line}\n`;
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (!sample) throw new Error(`unparsable exposition line: ${line}`);
    const [, name = '', labelText = ''] = sample;
    const family =
      families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, '')) ?? current;
    if (!family) throw new Error(`sample before any family: ${line}`);
    const labels: Record<string, string> = {};
    for (const m of labelText.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[m[1] ?? ''] = m[2] ?? '';
    family.samples.push({ name, labels });
    family.text += `${line}\n`;
  }
  return families;
}

interface Documented {
  type: string;
  /** Label name → its documented values, or null where the set is described, not listed. */
  labels: Map<string, string[] | null>;
}

/** Table rows of docs/metrics.md: | `name` | type | `label`: `v1`, `v2`; `other`: text | … */
function parseDoc(markdown: string): Map<string, Documented> {
  const documented = new Map<string, Documented>();
  for (const line of markdown.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const name = /^`(starttls_relay_[a-z0-9_]+)`$/.exec(cells[1] ?? '')?.[1];
    if (name === undefined) continue;
    const labels = new Map<string, string[] | null>();
    const labelCell = cells[3] ?? '';
    if (labelCell !== '—') {
      for (const part of labelCell.split(';')) {
        const colon = part.indexOf(':');
        const names = colon < 0 ? part : part.slice(0, colon);
        const rest = colon < 0 ? '' : part.slice(colon + 1);
        const values = [...rest.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
        for (const m of names.matchAll(/`([a-z_]+)`/g))
          labels.set(m[1] ?? '', values.length > 0 ? values : null);
      }
    }
    if (documented.has(name)) throw new Error(`${name} documented twice`);
    documented.set(name, { type: cells[2] ?? '', labels });
  }
  return documented;
}

/** Label names of a family's samples; a histogram's `le` is the format's, not ours. */
function sampleLabelNames(family: Family): string[] {
  const names = new Set<string>();
  for (const s of family.samples)
    for (const l of Object.keys(s.labels))
      if (!(family.type === 'histogram' && l === 'le')) names.add(l);
  return [...names].sort();
}

/** The label names a family was declared with in the relay's registries. */
function declaredLabelNames(relay: TestRelay, name: string): string[] | undefined {
  const { registry, processRegistry, supervisorRegistry } = relay.relay.metrics;
  const metric =
    registry.getSingleMetric(name) ??
    processRegistry.getSingleMetric(name) ??
    supervisorRegistry.getSingleMetric(name);
  if (metric === undefined) return undefined;
  const labelNames = (metric as unknown as { labelNames?: unknown }).labelNames;
  return Array.isArray(labelNames) ? labelNames.map(String).sort() : [];
}

async function until(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return true;
    await settle(50);
  }
  return check();
}

let relay: TestRelay;
let page = '';
let families = new Map<string, Family>();
let documented = new Map<string, Documented>();

t.before(async () => {
  const hop = await startRawHop();
  t.teardown(() => hop.close());
  // Process metrics on, as in production (startTestRelay turns them off by default).
  relay = await startTestRelay(
    { routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}` }] },
    { processMetrics: true },
  );
  t.teardown(() => relay.close());
  const c = await tlsClient(t, relay.port);
  const replies = await transact(
    c,
    'a@origin.test',
    ['b@dest.test'],
    'Subject: contract\r\n\r\nhi',
  );
  if (replies.final !== '250 2.0.0 Ok: queued') throw new Error(`not relayed: ${replies.final}`);
  await c.send('QUIT');
  c.close();
  // The session is counted when it closes.
  const counted = await until(async () =>
    (await relay.metricsText()).includes(`${PREFIX}inbound_sessions_total{listener="mta"`),
  );
  if (!counted) throw new Error('the session was never counted');
  page = await relay.metricsText();
  families = parseExposition(page);
  documented = parseDoc(await readFile(DOC, 'utf8'));
});

void t.test('one relayed message leaves samples on both hops', (t) => {
  t.match(page, `${PREFIX}inbound_sessions_total{listener="mta",tls_version="TLSv1.3"} 1`);
  t.match(page, `${PREFIX}outbound_starttls_total{result="not_offered"} 1`);
  t.match(
    page,
    `${PREFIX}hop_tls_messages_total{hop="inbound",tls_version="TLSv1.3",verified="false"} 1`,
  );
  t.match(
    page,
    `${PREFIX}hop_tls_messages_total{hop="outbound",tls_version="none",verified="false"} 1`,
  );
  t.match(page, `${PREFIX}messages_total{outcome="delivered"} 1`);
  t.match(page, `${PREFIX}process_start_time_seconds `, 'process metrics are on the page');
  t.end();
});

void t.test('promtool check metrics', async (t) => {
  const promtool = findTool('promtool');
  if (promtool === undefined) {
    t.plan(0, 'needs Debian package prometheus (no promtool)');
    return;
  }
  const args = ['check', 'metrics'];
  const { processRegistry } = relay.relay.metrics;
  const processNames = new Set(processRegistry.getMetricsAsArray().map((m) => m.name));
  const own = [...families]
    .filter(([name]) => !processNames.has(name))
    .map(([, f]) => f.text)
    .join('\n');
  t.ok(own.includes(`${PREFIX}messages_total`), 'the relay families are there to lint');
  const ownRun = await runTool(promtool, args, { input: own });
  t.equal(ownRun.code, 0, 'the relay metrics: promtool exits 0');
  t.equal(ownRun.stdout + ownRun.stderr, '', 'and prints nothing');
  if (ownRun.code !== 0) t.comment(describeRun(promtool, args, ownRun));

  // The whole page as served, process metrics included, passes the lint as well.
  const pageRun = await runTool(promtool, args, { input: page });
  t.equal(pageRun.code, 0, 'the page as served: promtool exits 0');
  t.equal(pageRun.stdout + pageRun.stderr, '', 'and prints nothing');
});

void t.test('every family on the page is documented with its type, and vice versa', (t) => {
  t.ok(families.size > 40, `${families.size} families on the page`);
  for (const [name, family] of families) {
    const doc = documented.get(name);
    t.ok(doc, `${name} is in docs/metrics.md`);
    if (doc) t.equal(doc.type, family.type, `${name} is a ${family.type}`);
  }
  for (const name of documented.keys()) t.ok(families.has(name), `documented ${name} is served`);
  t.end();
});

void t.test('label names match the docs and the declarations', (t) => {
  for (const [name, family] of families) {
    const doc = documented.get(name);
    if (!doc) continue;
    const docNames = [...doc.labels.keys()].sort();
    t.same(
      declaredLabelNames(relay, name),
      docNames,
      `${name} is declared with the documented labels`,
    );
    if (family.samples.length > 0 && docNames.length > 0) {
      t.same(sampleLabelNames(family), docNames, `${name} samples carry the documented labels`);
    }
  }
  t.end();
});

void t.test('every label value served is a documented one: no unbounded label', (t) => {
  let checked = 0;
  for (const [name, family] of families) {
    const doc = documented.get(name);
    if (!doc) continue;
    for (const sample of family.samples) {
      for (const [label, value] of Object.entries(sample.labels)) {
        const allowed = doc.labels.get(label);
        if (allowed === undefined || allowed === null) continue;
        checked++;
        if (!allowed.includes(value)) t.fail(`${name}{${label}="${value}"} is not documented`);
      }
    }
  }
  t.ok(checked > 0, `${checked} label values checked against the docs`);
  t.end();
});
