/** @module Starting a real relay for a test: config from a partial document, logs captured, port 0. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { startRelay, type RelayOverrides, type RunningRelay } from '../../src/app.js';
import { validateConfig } from '../../src/config/load.js';

export interface TestRelay {
  readonly relay: RunningRelay;
  /** Port of the first listener. */
  readonly port: number;
  readonly metricsPort: number;
  /** Every log line, parsed. */
  readonly logs: Array<Record<string, unknown>>;
  /** Raw log output, for asserting what never appears. */
  rawLogs(): string;
  /** The transaction log lines. */
  transactions(): Array<Record<string, unknown>>;
  metricsText(): Promise<string>;
  close(): Promise<void>;
}

export async function startTestRelay(
  document: Record<string, unknown>,
  overrides: RelayOverrides = {},
): Promise<TestRelay> {
  const stateDir = await mkdtemp(join(tmpdir(), 'relay-state-'));
  const result = validateConfig(
    {
      hostname: 'relay.test',
      stateDir,
      listeners: [{ name: 'mta', mode: 'mta', host: '127.0.0.1', port: 0 }],
      metrics: { host: '127.0.0.1', port: 0 },
      log: { level: 'info' },
      ...document,
    },
    stateDir,
  );
  if (!result.ok) throw new Error(`test config invalid: ${result.errors.join('; ')}`);
  const logs: Array<Record<string, unknown>> = [];
  let raw = '';
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const text = chunk.toString('utf8');
      raw += text;
      for (const line of text.split('\n'))
        if (line.trim() !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const relay = await startRelay(result.config, {
    logDestination: destination,
    processMetrics: false,
    ...overrides,
  });
  const first = [...relay.listeners.values()][0];
  if (!first || !relay.metricsServer) throw new Error('relay did not start');
  const metricsPort = relay.metricsServer.port;
  return {
    relay,
    port: first.port,
    metricsPort,
    logs,
    rawLogs: () => raw,
    transactions: () => logs.filter((l) => l.event === 'transaction'),
    async metricsText() {
      const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      return res.text();
    },
    async close() {
      await relay.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
