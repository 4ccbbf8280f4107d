// Shows the wiring the relay uses: the store under <stateDir>/tls-rpt, ended days reported into <stateDir>/tls-rpt/reports at start-up, counts written on close and read by the CLI as today so far.
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runTlsRptCommand } from '../../../src/tls-rpt/command.js';
import { FileTlsRptStore } from '../../../src/tls-rpt/file-store.js';
import { startTlsRpt } from '../../../src/tls-rpt/tls-rpt.js';
import { ok } from './events.js';

void t.test('start-up reports ended days; close writes the day so far', async (t) => {
  const cwd = await mkdtemp(join(tmpdir(), 'tls-rpt-wiring-'));
  // The embedded default config's stateDir, ./state, resolved against cwd.
  const stateDir = join(cwd, 'state');
  const before = await FileTlsRptStore.open({
    directory: join(stateDir, 'tls-rpt'),
    flushIntervalMs: 0,
  });
  before.record(ok('a.test'), new Date('2024-05-01T12:00:00Z'));
  await before.close();

  const now = () => new Date('2024-05-02T08:00:00Z');
  const running = await startTlsRpt({
    stateDir,
    organizationName: 'Relay Org',
    contactInfo: 'tls@relay.test',
    submit: false,
    uniqueId: 'relay-1',
    now,
    checkIntervalMs: 0,
    flushIntervalMs: 0,
  });
  const name = 'relay.test!a.test!1714521600!1714607999!relay1.json.gz';
  t.strictSame((await running.reporter.tick()).written, [name], 'the start-up round');
  t.strictSame(await readdir(join(stateDir, 'tls-rpt', 'reports')), [name]);
  running.store.record(ok('b.test'), now());
  await running.close();

  let stdout = '';
  const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: () => true } };
  t.equal(await runTlsRptCommand([], io, { now, cwd }), 0);
  t.equal(
    stdout,
    [
      `TLS-RPT 2024-05-02 (UTC, so far): 1 policy domain, this instance's state in ${stateDir}/tls-rpt`,
      'POLICY DOMAIN  POLICY  SUCCESSFUL  FAILED',
      'b.test         sts     1           0',
      '',
    ].join('\n'),
  );
});
