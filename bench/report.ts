/** The printed results: the summary table, the CPU breakdown, notes, and the profile summary. */
import { availableParallelism } from 'node:os';
import type { BenchOptions } from './args.js';
import type { RunResult } from './measure.js';
import type { ProfileSummary } from './profile.js';
import type { ScenarioRunResult, SubjectKind } from './scenario-run.js';
import type { Scenario as BenchScenario } from './scenarios.js';
import { spread, type Spread } from './stats.js';

function num(n: number, digits: number): string {
  return n.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** `median (min–max)`, or just the median when there was one run. */
function cell(values: readonly number[], digits: number): string {
  if (values.length === 0) return '—';
  const s: Spread = spread(values);
  if (values.length === 1) return num(s.median, digits);
  return `${num(s.median, digits)} (${num(s.min, digits)}–${num(s.max, digits)})`;
}

export function renderTable(
  headers: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [
    line(headers),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

export interface Scenario {
  readonly name: string;
  readonly runs: readonly RunResult[];
}

export function renderResults(
  options: BenchOptions,
  ceiling: Scenario,
  relay: Scenario,
  ratios: readonly number[],
): string {
  const row = (s: Scenario, ratio: string): string[] => [
    s.name,
    cell(
      s.runs.map((r) => r.msgsPerSecond),
      0,
    ),
    cell(
      s.runs.map((r) => r.p50Ms),
      2,
    ),
    cell(
      s.runs.map((r) => r.p99Ms),
      2,
    ),
    cell(
      s.runs.flatMap((r) => (r.relayRssMiB ? [r.relayRssMiB.peak] : [])),
      1,
    ),
    cell(
      s.runs.flatMap((r) => (r.cpuPer1k.relay !== undefined ? [r.cpuPer1k.relay] : [])),
      2,
    ),
    ratio,
  ];
  const main = renderTable(
    [
      'scenario',
      'msgs/s',
      'p50 ms',
      'p99 ms',
      'relay peak RSS MiB',
      'relay CPU s/1k msgs',
      'relay/ceiling',
    ],
    [row(ceiling, '—'), row(relay, cell(ratios, 3))],
  );
  const cpuRow = (s: Scenario): string[] => [
    s.name,
    cell(
      s.runs.map((r) => r.cpuPer1k.client),
      2,
    ),
    cell(
      s.runs.flatMap((r) => (r.cpuPer1k.relay !== undefined ? [r.cpuPer1k.relay] : [])),
      2,
    ),
    cell(
      s.runs.map((r) => r.cpuPer1k.sink),
      2,
    ),
    cell(
      s.runs.map((r) => r.coresBusy.bench),
      2,
    ),
    cell(
      s.runs.map((r) => r.coresBusy.machine),
      2,
    ),
  ];
  const cpu = renderTable(
    ['CPU s per 1k msgs', 'client', 'relay', 'sink', 'CPUs busy: bench', 'machine'],
    [cpuRow(ceiling), cpuRow(relay)],
  );
  const kernel = relay.runs.flatMap((r) =>
    r.relaySystemShare !== undefined ? [100 * r.relaySystemShare] : [],
  );
  const rss = relay.runs.flatMap((r) => (r.relayRssMiB ? [r.relayRssMiB] : []));
  const notes = [
    `${options.messages} messages of ${options.size} bytes per run over ${options.connections} long-lived ` +
      `connections, STARTTLS on every hop (ECDSA P-256); median (min–max) of ${options.runs} run(s); ` +
      `latency = MAIL sent → final 250, client-side.`,
    `Session setup is outside the measurement: smtp-server delays every greeting by 100 ms ` +
      `(hard-coded), so connect → STARTTLS → EHLO takes p50 ${cell(
        ceiling.runs.map((r) => r.setupP50Ms),
        0,
      )} ms ` +
      `direct and ${cell(
        relay.runs.map((r) => r.setupP50Ms),
        0,
      )} ms via the relay.`,
    `One warm-up message per connection, not counted: p50 ${cell(
      ceiling.runs.map((r) => r.coldP50Ms),
      1,
    )} ms ` +
      `direct, ${cell(
        relay.runs.map((r) => r.coldP50Ms),
        1,
      )} ms via the relay (opens its next-hop ` +
      `session: the sink's 100 ms greeting and a TLS handshake).`,
    `Next-hop connections the sink saw per relay run: ${cell(
      relay.runs.map((r) => r.sinkConnections),
      0,
    )} ` +
      `for ${options.connections} client sessions (one per session, reused across its transactions).`,
    `Relay CPU in the kernel (system time): ${cell(kernel, 0)}%.`,
    `Relay RSS MiB: after start ${cell(
      rss.map((r) => r.idle),
      1,
    )}, highest 100 ms sample during the run ` +
      `${cell(
        rss.map((r) => r.sampled),
        1,
      )}, VmHWM ${cell(
        rss.map((r) => r.peak),
        1,
      )} (the table's peak).`,
    `Relay, sink and client are three processes on ${availableParallelism()} CPU(s). "CPUs busy" counts ` +
      `during the load the bench's processes and all of the machine's; a machine figure well above the ` +
      `bench's means other work competed. Runs move by tens of percent on a shared machine: compare ` +
      `the ratio (taken per run) and CPU per message.`,
  ];
  return `${main}\n\n${cpu}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`;
}

export function renderProfile(summary: ProfileSummary): string {
  const pct = (ms: number): string => `${num((100 * ms) / summary.totalMs, 1)}%`;
  const table = (title: string, rows: ProfileSummary['functions']): string =>
    renderTable(
      [title, 'self ms', 'share'],
      rows.map((r) => [r.name, num(r.ms, 0), pct(r.ms)]),
    );
  return [
    `Relay CPU profile of one steady-state run (${num(summary.totalMs, 0)} ms of non-idle samples):`,
    '',
    table('where (self time)', summary.areas),
    '',
    table('function (self time)', summary.functions),
    '',
    `V8 samples wall time: native socket writes (${pct(summary.socketWritesMs)} here) also absorb the ` +
      'time the relay is preempted after waking its peer, so on a busy machine they are overstated; ' +
      '`perf record -g -p PID` gives a CPU-time view.',
    '',
  ].join('\n');
}

export interface SubjectRuns {
  readonly kind: SubjectKind;
  readonly runs: readonly ScenarioRunResult[];
  /** Why the subject was not measured (e.g. Postfix not installed). */
  readonly missing?: string;
}

export interface ScenarioResults {
  readonly scenario: BenchScenario;
  readonly subjects: readonly SubjectRuns[];
  /** relay msgs/s ÷ Postfix msgs/s, per run (same run index, so measured side by side). */
  readonly relayOverPostfix: readonly number[];
}

const SUBJECT_NAMES: Record<SubjectKind, string> = {
  ceiling: 'ceiling (sink alone)',
  relay: 'relay',
  postfix: 'Postfix 3.7',
};

/** The one table of `npm run bench`: every scenario, every subject, and the notes to read it. */
export function renderScenarios(
  options: BenchOptions,
  results: readonly ScenarioResults[],
): string {
  const rows: string[][] = [];
  for (const { scenario, subjects, relayOverPostfix } of results) {
    for (const s of subjects) {
      const label = subjects.indexOf(s) === 0 ? scenario.title : '';
      if (s.missing !== undefined) {
        rows.push([label, SUBJECT_NAMES[s.kind], s.missing, '—', '—', '—', '—', '—', '—']);
        continue;
      }
      const queued = s.kind === 'postfix' ? ' (q)' : '';
      const of = (f: (r: ScenarioRunResult) => number, digits: number): string =>
        cell(s.runs.map(f), digits);
      rows.push([
        label,
        SUBJECT_NAMES[s.kind],
        of((r) => r.msgsPerSecond, 0),
        `${of((r) => r.p50Ms, 1)}${queued}`,
        `${of((r) => r.p99Ms, 1)}${queued}`,
        of((r) => r.peakRssMiB, 1),
        of((r) => r.cpuPer1k.subject, 2),
        s.kind === 'relay' && relayOverPostfix.length > 0 ? cell(relayOverPostfix, 2) : '',
        s.kind === 'relay'
          ? `${of((r) => r.lag?.p99Ms ?? NaN, 1)} / ${of((r) => r.lag?.maxMs ?? NaN, 1)}`
          : '',
      ]);
    }
  }
  const table = renderTable(
    [
      'scenario',
      'subject',
      'msgs/s at sink',
      'p50 ms',
      'p99 ms',
      'peak RSS MiB',
      'CPU s/1k msgs',
      'relay/Postfix',
      'relay loop lag p99 / max ms',
    ],
    rows,
  );
  const notes = [
    `Each cell: median (min–max) of ${options.runs} run(s); in every run the subjects go one after ` +
      `the other (ceiling, relay, Postfix), so the relay/Postfix ratio is taken per run.`,
    'msgs/s: messages arriving at the sink per second, from the first to the last arrival of the ' +
      'measured load. Postfix queues, so its rate is its delivery rate.',
    `Warm-up: before each measured load the same subject gets ${warmUpSummary(results)} ` +
      'unmeasured messages (--warm-up; 0 measures a cold start), and Postfix has delivered them ' +
      'all before the measured load starts: the figures are those of a subject that has been up ' +
      'a while. The relay is a fresh process in every run: the warm-up rate in the second table ' +
      "is its cold start (the sink and Postfix run on through a scenario's runs; (q): Postfix " +
      'queued).',
    'p50/p99: client-side, MAIL sent → final 250 (c: connect → final 250 of a fresh session). ' +
      '(q) marks Postfix: its 250 means queued, not delivered, so it is not comparable.',
    `relay: workers ${options.workers === 'auto' ? `auto (${availableParallelism()})` : options.workers} ` +
      '(processes sharing the listener, docs/workers.md).',
    'peak RSS: the highest sample (every 0.1–1 s); relay and Postfix: PSS (smaps_rollup) of all ' +
      'their processes summed (the relay primary and its workers; the Postfix master and the ' +
      'daemons it started), so pages they share count once; ceiling: the VmRSS of the sink.',
    'CPU s/1k msgs: user + system CPU of the subject per 1,000 measured messages, all its ' +
      'processes; Postfix: the master and every daemon it started, those that exited included ' +
      '(reaped into its cutime); ceiling: the sink.',
    'relay loop lag: perf_hooks.monitorEventLoopDelay inside the relay during the load (workers: ' +
      'p99 averaged over them, max the highest, from their prom-client gauges).',
    'TLS: ECDSA P-256 certificates everywhere; the relay route is `tls: may` (d: `none`), Postfix ' +
      'has `smtpd_tls_security_level = may`, `smtp_tls_security_level = may` and ' +
      '`smtp_tls_connection_reuse = yes` (d: none). Greeting pause: none at the sink and the ' +
      'relay (listener `greetingDelayMs: 0`), none in Postfix (no postscreen).',
  ];
  return `${table}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`;
}

/** "a 3,000, b 1,000, …": each scenario's warm-up count. */
function warmUpSummary(results: readonly ScenarioResults[]): string {
  return results
    .map(({ scenario }) => `${scenario.id} ${scenario.warmUp.toLocaleString('en-US')}`)
    .join(', ');
}

/**
 * Per scenario, where the CPU went: client, subject, sink, per 1,000 messages; and how fast the
 * unmeasured warm-up went (for the relay, a fresh process each run: its cold start).
 */
export function renderCpuBreakdown(results: readonly ScenarioResults[]): string {
  const rows: string[][] = [];
  for (const { scenario, subjects } of results) {
    for (const s of subjects) {
      if (s.missing !== undefined) continue;
      rows.push([
        subjects.indexOf(s) === 0 ? scenario.id : '',
        SUBJECT_NAMES[s.kind],
        cell(
          s.runs.map((r) => r.cpuPer1k.client),
          2,
        ),
        s.kind === 'ceiling'
          ? '—'
          : cell(
              s.runs.map((r) => r.cpuPer1k.subject),
              2,
            ),
        cell(
          s.runs.map((r) => r.cpuPer1k.sink),
          2,
        ),
        cell(
          s.runs.map((r) => r.sinkConnections),
          0,
        ),
        s.runs.some((r) => r.warmUpMsgsPerSecond === undefined)
          ? '—'
          : // Postfix's replies mean queued: its rate of taking mail, not of delivering it.
            `${cell(
              s.runs.map((r) => r.warmUpMsgsPerSecond ?? NaN),
              0,
            )}${s.kind === 'postfix' ? ' (q)' : ''}`,
      ]);
    }
  }
  return renderTable(
    [
      'scenario',
      'subject',
      'client CPU s/1k',
      'subject CPU s/1k',
      'sink CPU s/1k',
      'sink conns/run',
      'warm-up msgs/s (client side)',
    ],
    rows,
  );
}
