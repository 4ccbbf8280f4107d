// The command line: check-config exits non-zero listing every error; serve runs from a config file and stops cleanly on SIGTERM.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { ROOT, runCli } from '../support/cli.js';
import { parseHash, verifyPassword } from '../../src/auth/password-hash.js';
import { SmtpDialogue } from '../support/smtp-client.js';

void t.test(
  'check-config accepts an example and rejects a bad file with every error',
  async (t) => {
    const ok = await runCli(['check-config', '--config', 'config/legacy-mta-front.yaml']);
    t.equal(ok.code, 0);
    t.equal(ok.stdout, 'config/legacy-mta-front.yaml: ok\n');

    const dir = await mkdtemp(join(tmpdir(), 'cli-'));
    const bad = join(dir, 'bad.yaml');
    await writeFile(
      bad,
      'listeners:\n  - name: mta\n    port: -1\nrelay:\n  allowedNetworks: [nowhere]\nbogus: 1\n',
    );
    const r = await runCli(['check-config', '--config', bad]);
    t.equal(r.code, 1);
    t.equal(
      r.stderr,
      `${bad}: 3 errors\n  listeners[0].port: Too small: expected number to be >=0\n  relay.allowedNetworks[0]: expected an IPv4 or IPv6 address or CIDR block such as 10.0.0.0/8 or fd00::/8\n  bogus: unknown key\n`,
    );
    const usage = await runCli(['check-config']);
    t.equal(usage.code, 2);
    t.match(usage.stderr, /check-config needs --config FILE/);
    const unknown = await runCli(['frobnicate']);
    t.equal(unknown.code, 2);
    t.match(unknown.stderr, /unknown command: frobnicate/);
  },
);

void t.test('hash-password prints a users-file hash of the password on stdin', async (t) => {
  const r = await runCli(['hash-password'], 'correct horse\n');
  t.equal(r.code, 0);
  const hash = parseHash(r.stdout.trim());
  t.ok(hash, 'a hash the users file accepts');
  if (hash) {
    t.equal(
      await verifyPassword('correct horse', hash),
      true,
      'of the password without its line end',
    );
    t.equal(await verifyPassword('correct horse\n', hash), false);
  }
  const empty = await runCli(['hash-password'], '');
  t.equal(empty.code, 1);
  t.equal(empty.stderr, 'hash-password: empty password on stdin\n');
});

void t.test('probe is wired in: an unreachable host exits 2 with its JSON report', async (t) => {
  const r = await runCli(['probe', '127.0.0.1:1', '--json', '--timeout', '5']);
  t.equal(r.code, 2);
  const report = JSON.parse(r.stdout) as {
    kind: string;
    hosts: Array<{ reachable: boolean }>;
    exitCode: number;
  };
  t.equal(report.kind, 'host');
  t.equal(report.hosts[0]?.reachable, false);
  t.equal(report.exitCode, 2);
});

void t.test('serve answers SMTP and HTTP, then exits 0 on SIGTERM', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cli-'));
  const file = join(dir, 'relay.yaml');
  await writeFile(
    file,
    'hostname: cli.test\nstateDir: ./state\nlisteners:\n  - { name: mta, host: 127.0.0.1, port: 0 }\nmetrics: { host: 127.0.0.1, port: 0 }\n',
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', '--config', file], {
    cwd: ROOT,
  });
  t.teardown(() => child.kill('SIGKILL'));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  const ports: Record<string, number> = {};
  const lines = createInterface({ input: child.stdout });
  for await (const line of lines) {
    const entry = JSON.parse(line) as { msg: string; port?: number };
    if (entry.msg === 'listening' && entry.port) ports.smtp = entry.port;
    if (entry.msg === 'metrics listening' && entry.port) ports.metrics = entry.port;
    if (ports.smtp && ports.metrics) break;
  }
  const c = await SmtpDialogue.connect(ports.smtp ?? 0);
  t.equal(await c.line(), '220 cli.test ESMTP starttls-relay');
  t.equal(await c.send('QUIT'), '221 Bye');
  c.close();
  const health = await fetch(`http://127.0.0.1:${ports.metrics}/healthz`);
  t.equal(health.status, 200);
  t.equal(await health.text(), 'ok\n');
  const ready = await fetch(`http://127.0.0.1:${ports.metrics}/readyz`);
  t.equal(ready.status, 200);
  const metrics = await fetch(`http://127.0.0.1:${ports.metrics}/metrics`);
  t.equal(metrics.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  t.match(
    await metrics.text(),
    /starttls_relay_certificate_expiry_timestamp_seconds\{source="generated",key_type="ecdsa"\} \d+/,
  );
  child.kill('SIGTERM');
  t.equal(await exited, 0);
});
