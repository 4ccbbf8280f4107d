/**
 * `npm run bench -- --sweep`: the relay alone with 1 KiB to 1 MiB messages over 8 long-lived
 * STARTTLS sessions, to show the body path streams: CPU per KiB falls towards a constant as the
 * per-message cost is spread (never rises with size) and peak memory stays flat (no message is
 * ever held whole).
 */
import { buildMessage } from './client.js';
import { renderTable } from './report.js';
import type { Child } from './children.js';
import { runScenario, type ScenarioRunResult } from './scenario-run.js';
import type { Scenario } from './scenarios.js';

/** Sizes and message counts: about the same 16–60 MiB per run, enough for steady numbers. */
const STEPS: readonly { readonly size: number; readonly messages: number }[] = [
  { size: 1024, messages: 2000 },
  { size: 16 * 1024, messages: 1500 },
  { size: 100 * 1024, messages: 600 },
  { size: 1024 * 1024, messages: 60 },
];

export interface SweepRow {
  readonly size: number;
  readonly result: ScenarioRunResult;
}

function label(size: number): string {
  return size >= 1024 * 1024 ? `${size / (1024 * 1024)} MiB` : `${size / 1024} KiB`;
}

/** One relay run per size; `startRelay` gives a fresh relay child for each. */
export async function runSweep(
  connections: number,
  sink: Child,
  startRelay: () => Promise<Child>,
  stopRelay: (relay: Child) => Promise<void>,
  say: (text: string) => void,
  /** Unmeasured messages before each size's load (--warm-up); as many as measured when absent. */
  warmUp?: number,
): Promise<SweepRow[]> {
  const rows: SweepRow[] = [];
  for (const step of STEPS) {
    const scenario: Scenario = {
      id: 'b',
      title: `sweep ${label(step.size)}`,
      size: step.size,
      tls: true,
      shape: 'sessions',
      clients: connections,
      messages: step.messages,
      // As many unmeasured messages first (unless --warm-up says): the per-KiB cost of a warm relay.
      warmUp: warmUp ?? step.messages,
      warmUpSessions: connections,
    };
    say(`sweep ${label(step.size)}: relay…`);
    const relay = await startRelay();
    try {
      const result = await runScenario(
        scenario,
        { kind: 'relay', port: relay.port, relay },
        sink,
        buildMessage(step.size),
        Math.max(120_000, step.messages * 600),
      );
      rows.push({ size: step.size, result });
      say(` ${Math.round(result.msgsPerSecond)}/s\n`);
    } finally {
      await stopRelay(relay);
    }
  }
  return rows;
}

export function renderSweep(rows: readonly SweepRow[]): string {
  const header = [
    'message size',
    'msgs/s',
    'MiB/s',
    'relay CPU µs per KiB',
    'relay CPU ms per message',
    'µs per added KiB',
    'peak RSS MiB',
  ];
  const body = rows.map(({ size, result }, i) => {
    const cpuPerMessageMs = result.cpuPer1k.subject;
    const before = rows[i - 1];
    // The cost of each KiB more: flat when the body streams (no copy of the whole message).
    const marginal = before
      ? (
          ((cpuPerMessageMs - before.result.cpuPer1k.subject) * 1000) /
          ((size - before.size) / 1024)
        ).toFixed(1)
      : '—';
    return [
      label(size),
      result.msgsPerSecond.toFixed(0),
      ((result.msgsPerSecond * size) / (1024 * 1024)).toFixed(1),
      ((cpuPerMessageMs * 1000) / (size / 1024)).toFixed(1),
      cpuPerMessageMs.toFixed(2),
      marginal,
      result.peakRssMiB.toFixed(1),
    ];
  });
  return [
    renderTable(header, body),
    '',
    '- One run per size, the relay alone (8 long-lived sessions, STARTTLS both hops). CPU per',
    '  message is a fixed cost plus a cost per KiB: "µs per added KiB" (from the size above) must',
    '  stay flat, and peak memory must not follow the size: the body streams.',
    '',
  ].join('\n');
}
