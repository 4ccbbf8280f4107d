// The Dockerfile and .dockerignore read without building (scripts/container-check.sh builds and runs the image): LTS slim base, pruned multi-stage build, numeric non-root user matching the pods, exec-form entry point and health check, a safe default config.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { ROOT, asArray, at } from './manifests.js';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const logical: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    if (current === '' && /^\s*(#|$)/.test(line)) continue;
    if (line.endsWith('\\')) {
      current += `${line.slice(0, -1)} `;
    } else {
      logical.push(current + line);
      current = '';
    }
  }
  return logical.map((l) => {
    const m = /^\s*(\S+)\s*(.*)$/.exec(l);
    return { keyword: (m?.[1] ?? '').toUpperCase(), args: (m?.[2] ?? '').trim() };
  });
}

const dockerfile = instructions(await readFile(resolve(ROOT, 'Dockerfile'), 'utf8'));
const of = (keyword: string): Instruction[] => dockerfile.filter((i) => i.keyword === keyword);
const stages = (() => {
  const out: Instruction[][] = [];
  for (const i of dockerfile) {
    if (i.keyword === 'FROM') out.push([]);
    out.at(-1)?.push(i);
  }
  return out;
})();

/** An exec-form argument list: a JSON array of strings, or undefined (shell form). */
function execForm(args: string): string[] | undefined {
  try {
    const v: unknown = JSON.parse(args);
    return Array.isArray(v) && v.every((a) => typeof a === 'string') ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The image's default config: the `printf '%s\n' 'line' … > FILE` RUN, as lines and its path. */
function imageConfig(): { path: string; text: string } {
  const run = of('RUN').find((i) => i.args.startsWith("printf '%s\\n'"));
  if (!run) throw new Error("no RUN printf '%s\\n' … > config.yaml in the Dockerfile");
  const [, body = '', path = ''] = /^printf '%s\\n'(.*?)\s>\s*(\S+)/.exec(run.args) ?? [];
  const lines = [...body.matchAll(/'([^']*)'|"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? m[2] ?? '');
  return { path, text: `${lines.join('\n')}\n` };
}

const deployment: unknown = parse(
  await readFile(resolve(ROOT, 'deploy/kubernetes/base/deployment.yaml'), 'utf8'),
);
const pod = at(deployment, 'spec', 'template', 'spec');

void t.test('base: the current Node.js LTS, slim; two stages from it', async (t) => {
  const arg = of('ARG').find((i) => i.args.startsWith('NODE_IMAGE='));
  const m = /^NODE_IMAGE=docker\.io\/library\/node:(\d+)-bookworm-slim$/.exec(arg?.args ?? '');
  t.ok(m, `ARG NODE_IMAGE names an official node:<major>-bookworm-slim image: ${arg?.args}`);
  const major = Number(m?.[1]);
  t.equal(major % 2, 0, 'an even major: an LTS line');
  const pkg = JSON.parse(await readFile(resolve(ROOT, 'package.json'), 'utf8')) as {
    engines: { node: string };
    license: string;
  };
  const minimum = Number(/>=\s*(\d+)/.exec(pkg.engines.node)?.[1]);
  t.ok(major >= minimum, `node ${major} satisfies engines ${pkg.engines.node}`);
  t.ok(major >= 22, 'not Node.js 20, whose support ended in April 2026');
  t.same(
    of('FROM').map((i) => i.args),
    ['${NODE_IMAGE} AS build', '${NODE_IMAGE}'],
    'a build stage and a runtime stage on the same base',
  );
  t.end();
});

void t.test(
  'build stage: npm ci, tsc, dev dependencies pruned; runtime gets only the output',
  (t) => {
    const [build = [], runtime = []] = stages;
    const buildRuns = build.filter((i) => i.keyword === 'RUN').map((i) => i.args);
    t.ok(
      buildRuns.some((r) => /^npm ci\b/.test(r)),
      'npm ci (the lockfile, exactly)',
    );
    t.ok(
      buildRuns.some((r) => r.includes('npm run build') && r.includes('npm prune --omit=dev')),
      'tsc build, then npm prune --omit=dev',
    );
    const copies = runtime.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    t.same(
      copies.map((c) => c.split(/\s+/)[1]).sort(),
      ['/src/dist', '/src/node_modules', '/src/package.json'],
      'the runtime copies dist, the pruned node_modules and package.json, all from the build stage',
    );
    t.ok(
      copies.every((c) => c.startsWith('--from=build ')),
      'no source, test or build file from the context',
    );
    t.end();
  },
);

void t.test('a numeric non-root user, the same the pods run as', (t) => {
  const users = of('USER');
  t.equal(users.length, 1);
  const [uid, gid] = (users[0]?.args ?? '').split(':').map(Number);
  t.ok(Number.isInteger(uid) && (uid ?? 0) > 0, `USER ${users[0]?.args}: numeric uid, not 0`);
  t.ok(Number.isInteger(gid) && (gid ?? 0) > 0, 'numeric gid, not 0');
  t.equal(dockerfile.at(-1)?.keyword, 'CMD', 'USER comes before the entry point');
  t.equal(at(pod, 'securityContext', 'runAsUser'), uid, 'deployment runAsUser');
  t.equal(at(pod, 'securityContext', 'runAsGroup'), gid, 'deployment runAsGroup');
  t.end();
});

void t.test('exec-form ENTRYPOINT and CMD: node runs the relay with the image config', (t) => {
  const entrypoint = execForm(of('ENTRYPOINT')[0]?.args ?? '');
  t.same(
    entrypoint,
    ['node', '/opt/starttls-relay/dist/main.js'],
    'node is PID 1 and gets SIGTERM',
  );
  t.same(execForm(of('CMD')[0]?.args ?? ''), ['--config', imageConfig().path]);
  t.equal(of('STOPSIGNAL')[0]?.args, 'SIGTERM');
  t.end();
});

void t.test(
  'the image default config is valid, never an open relay, and matches EXPOSE and HEALTHCHECK',
  (t) => {
    const { path, text } = imageConfig();
    const result = validateConfig(parse(text), '/etc/starttls-relay');
    if (!result.ok) throw new Error(`image config ${path}:\n  ${result.errors.join('\n  ')}`);
    const config: Config = result.config;
    t.same(config.relay.acceptDomains, [], 'accepts mail for no domain');
    t.same(config.relay.allowedNetworks, ['127.0.0.0/8', '::1/128'], 'relays for loopback only');
    t.ok(
      config.listeners.every((l) => l.port >= 1024),
      'unprivileged ports: no capability needed',
    );
    t.equal(config.metrics.host, '0.0.0.0', 'metrics reachable for a scraper');
    const runs = of('RUN').map((i) => i.args);
    t.ok(
      runs.some((r) => r.includes(`chown 10001:10001 ${config.stateDir}`)),
      `stateDir ${config.stateDir} exists and belongs to the relay user (mount a volume there)`,
    );
    t.ok(
      runs.some((r) => r.includes(`check-config --config ${path}`)),
      'the build runs check-config on it',
    );

    const exposed = (of('EXPOSE')[0]?.args ?? '').split(/\s+/).map(Number);
    const podPorts = asArray(at(pod, 'containers', 0, 'ports')).map((p) => at(p, 'containerPort'));
    t.same(
      [...exposed].sort(),
      [...podPorts].sort(),
      'EXPOSE lists the Kubernetes container ports',
    );
    for (const port of [...config.listeners.map((l) => l.port), config.metrics.port]) {
      t.ok(exposed.includes(port), `EXPOSE ${port} (image config)`);
    }

    const health = of('HEALTHCHECK')[0]?.args ?? '';
    const command = execForm(health.slice(health.indexOf('CMD ') + 4));
    t.same(command?.slice(0, 2), ['node', '-e'], 'exec-form, node (no curl in slim images)');
    t.match(command?.[2], `fetch('http://127.0.0.1:${config.metrics.port}/healthz')`);
    t.end();
  },
);

void t.test('OCI labels', (t) => {
  const labels = of('LABEL')
    .map((i) => i.args)
    .join(' ');
  for (const key of ['title', 'description', 'licenses', 'version', 'revision']) {
    t.match(labels, `org.opencontainers.image.${key}=`, key);
  }
  t.match(labels, 'org.opencontainers.image.licenses="MIT"');
  t.end();
});

void t.test('.dockerignore lets in exactly what the build stage copies', async (t) => {
  const patterns = (await readFile(resolve(ROOT, '.dockerignore'), 'utf8'))
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  t.equal(patterns[0], '*', 'an allow-list: everything else (node_modules, state, .git) stays out');
  const allowed = patterns
    .filter((p) => p.startsWith('!'))
    .map((p) => p.slice(1).replace(/\/$/, ''));
  const sources = (stages[0] ?? [])
    .filter((i) => i.keyword === 'COPY' && !i.args.startsWith('--from'))
    .flatMap((i) => i.args.split(/\s+/).slice(0, -1))
    .map((s) => s.replace(/^\.\//, '').replace(/\/$/, ''));
  t.same([...sources].sort(), [...allowed].sort());
});
