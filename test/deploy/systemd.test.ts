// deploy/systemd: the unit passes `systemd-analyze verify` with no warning and `systemd-analyze security --offline` at exposure ≤ 2.0, keeps V8's JIT working, waits out the drain, and names the sysusers user.
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import t from 'tap';
import { describeRun, requireTool, runTool } from '../support/tools.js';
import { ROOT } from './manifests.js';

const UNIT = resolve(ROOT, 'deploy/systemd/starttls-relay.service');
const SYSUSERS = resolve(ROOT, 'deploy/systemd/starttls-relay.sysusers');
const MAX_EXPOSURE = 2.0;
const DEFAULT_DRAIN_SECONDS = 30;

const text = await readFile(UNIT, 'utf8');

/** Every value of `key=` in the unit, in order. */
function values(key: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${key}=`))
    .map((l) => l.slice(key.length + 1).trim());
}

void t.test('static: V8 keeps its JIT, one capability, the drain fits in the stop timeout', (t) => {
  t.notSame(
    values('MemoryDenyWriteExecute'),
    ['yes'],
    'MemoryDenyWriteExecute=yes makes node abort: V8 needs W+X pages (nodejs/node#55509)',
  );
  t.same(values('AmbientCapabilities'), ['CAP_NET_BIND_SERVICE'], 'ports below 1024, nothing else');
  t.same(values('CapabilityBoundingSet'), ['CAP_NET_BIND_SERVICE']);
  t.same(values('NoNewPrivileges'), ['yes']);
  t.same(values('ProtectSystem'), ['strict'], 'read-only file system…');
  t.same(values('StateDirectory'), ['starttls-relay'], '…but stateDir /var/lib/starttls-relay');
  t.same(
    values('ExecReload'),
    ['/bin/kill -HUP $MAINPID'],
    'reload: SIGHUP reloads the certificate',
  );
  const [exec = ''] = values('ExecStart');
  t.match(
    exec,
    /^\/usr\/bin\/node \/opt\/starttls-relay\/dist\/main\.js --config \/etc\/starttls-relay\/config\.yaml$/,
  );
  const stop = Number(/^(\d+)s$/.exec(values('TimeoutStopSec')[0] ?? '')?.[1]);
  t.ok(
    stop >= DEFAULT_DRAIN_SECONDS + 10,
    `TimeoutStopSec ${stop}s ≥ drain ${DEFAULT_DRAIN_SECONDS}s + 10s`,
  );
  t.end();
});

void t.test('the User= is the one starttls-relay.sysusers creates', async (t) => {
  const sysusers = (await readFile(SYSUSERS, 'utf8'))
    .split('\n')
    .filter((l) => l.startsWith('u '))
    .map((l) => l.split(/\s+/)[1]);
  t.same(sysusers, values('User'));
  t.same(values('Group'), values('User'));
});

const analyze = requireTool(t, 'systemd-analyze', 'systemd');
if (analyze) {
  /**
   * verify checks that ExecStart's binary exists: where /usr/bin/node does not (a node from
   * nvm, say), a copy of the unit names this test's own node instead. Nothing else changes.
   */
  async function verifiableUnit(): Promise<{ path: string; note: string; done(): Promise<void> }> {
    try {
      accessSync('/usr/bin/node', constants.X_OK);
      return { path: UNIT, note: '', done: () => Promise.resolve() };
    } catch {
      const dir = await mkdtemp(join(tmpdir(), 'starttls-relay-unit-'));
      const path = join(dir, 'starttls-relay.service');
      await writeFile(path, text.replaceAll('/usr/bin/node', process.execPath));
      return {
        path,
        note: ` (a copy with ExecStart=${process.execPath}: no /usr/bin/node here)`,
        done: () => rm(dir, { recursive: true, force: true }),
      };
    }
  }

  void t.test(
    'systemd-analyze verify prints nothing (it exits 0 even with warnings)',
    async (t) => {
      const unit = await verifiableUnit();
      try {
        const args = ['verify', unit.path];
        const run = await runTool(analyze, args, { timeoutMs: 30_000 });
        t.equal(run.code, 0, run.code === 0 ? 'exit 0' : describeRun(analyze, args, run));
        t.equal(`${run.stdout}${run.stderr}`, '', `no warning${unit.note}`);
      } finally {
        await unit.done();
      }
    },
  );

  void t.test(`systemd-analyze security --offline: exposure ≤ ${MAX_EXPOSURE}`, async (t) => {
    const args = ['security', '--offline=true', '--no-pager', UNIT];
    const run = await runTool(analyze, args, { timeoutMs: 30_000 });
    t.equal(run.code, 0, run.code === 0 ? 'exit 0' : describeRun(analyze, args, run));
    const m = /Overall exposure level for starttls-relay\.service: (\d+(?:\.\d+)?) (\S+)/.exec(
      run.stdout,
    );
    t.ok(
      m,
      m ? 'an overall exposure level' : `no overall exposure level in:\n${run.stdout}${run.stderr}`,
    );
    const exposure = Number(m?.[1]);
    t.ok(exposure <= MAX_EXPOSURE, `exposure ${exposure} ${m?.[2] ?? ''} ≤ ${MAX_EXPOSURE}`);
  });
}
