// deploy/kubernetes: base and example overlay render with kustomize, validate against the shipped schemas with no unknown fields, and agree with the relay config they carry.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { validateConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { findTool } from '../support/tools.js';
import {
  KUBERNETES_DIR,
  all,
  asArray,
  at,
  fieldErrors,
  label,
  one,
  render,
  typingOf,
  unknownKeys,
  type KubeObject,
  type Shape,
} from './manifests.js';

/** Secrets that no manifest creates: the operator does (docs/deploy.md), or cert-manager. */
const SECRETS_MADE_BY_THE_OPERATOR = ['starttls-relay-users'];

/** cert-manager ships no schema here: the fields our Certificate may use, and nothing else. */
const CERTIFICATE: Shape = {
  apiVersion: true,
  kind: true,
  metadata: { name: true, namespace: true, labels: 'map', annotations: 'map' },
  spec: {
    secretName: true,
    dnsNames: true,
    commonName: true,
    duration: true,
    renewBefore: true,
    usages: true,
    issuerRef: { group: true, kind: true, name: true },
    privateKey: { algorithm: true, size: true, encoding: true, rotationPolicy: true },
    secretTemplate: { labels: 'map', annotations: 'map' },
  },
};

const kubectl = findTool('kubectl');
if (kubectl === undefined) {
  t.plan(
    0,
    'needs kubectl ≥ 1.27 (kustomize v5): no Debian bookworm package has one (kubernetes-client is 1.20); the node machine image ships it',
  );
}

interface Rendered {
  readonly name: string;
  readonly objects: KubeObject[];
}

type Model = new (data: unknown) => { validate(): void };

async function schemaOf(o: KubeObject): Promise<Model | undefined> {
  const module = typingOf(o);
  if (module === undefined) return undefined;
  // One kind's module (kubernetes-models/apps/v1/Deployment), not the group's index: the
  // index loads every validator of the group, seconds for the core group.
  const exports = (await import(module)) as Record<string, unknown>;
  return exports[o.kind] as Model | undefined;
}

/** The relay container of the Deployment. */
function relayContainer(objects: readonly KubeObject[]): unknown {
  const containers = asArray(
    at(one(objects, 'Deployment'), 'spec', 'template', 'spec', 'containers'),
  );
  return containers.find((c) => at(c, 'name') === 'relay');
}

/** The relay config the ConfigMap carries, validated as the relay would (baseDir = its mount). */
function relayConfig(objects: readonly KubeObject[]): { raw: unknown; config: Config } {
  const data = at(one(objects, 'ConfigMap'), 'data', 'config.yaml');
  if (typeof data !== 'string') throw new Error('the ConfigMap has no config.yaml');
  const raw: unknown = parse(data);
  const result = validateConfig(raw, '/etc/starttls-relay/config');
  if (!result.ok) throw new Error(`config.yaml:\n  ${result.errors.join('\n  ')}`);
  return { raw, config: result.config };
}

/** containerPort by port name. */
function containerPorts(container: unknown): Map<string, number> {
  return new Map(
    asArray(at(container, 'ports')).map((p) => [
      at(p, 'name') as string,
      at(p, 'containerPort') as number,
    ]),
  );
}

/** Mount path of the volume whose source (configMap, secret, emptyDir) satisfies `pick`. */
function mountOf(
  objects: readonly KubeObject[],
  pick: (volume: unknown) => boolean,
): string | undefined {
  const volumes = asArray(at(one(objects, 'Deployment'), 'spec', 'template', 'spec', 'volumes'));
  const volume = volumes.find(pick);
  if (volume === undefined) return undefined;
  const mounts = asArray(at(relayContainer(objects), 'volumeMounts'));
  return at(
    mounts.find((m) => at(m, 'name') === at(volume, 'name')),
    'mountPath',
  ) as string | undefined;
}

function selects(selector: unknown, labels: unknown): boolean {
  const wanted = Object.entries((selector ?? {}) as Record<string, string>);
  return wanted.length > 0 && wanted.every(([k, v]) => at(labels, k) === v);
}

function defineTests(targets: readonly Rendered[]): void {
  void t.test('base and overlay render with kubectl kustomize into the expected objects', (t) => {
    for (const { name, objects } of targets) {
      t.same(
        [...new Set(objects.map((o) => o.kind))].sort(),
        [
          'ConfigMap',
          'Deployment',
          'HorizontalPodAutoscaler',
          'NetworkPolicy',
          'PodDisruptionBudget',
          'PrometheusRule',
          'Service',
          'ServiceAccount',
          'ServiceMonitor',
          ...(name === 'base' ? [] : ['Certificate', 'Namespace']),
        ].sort(),
        name,
      );
      t.equal(all(objects, 'Service').length, 2, `${name}: the SMTP and the metrics Service`);
    }
    const overlay = targets.find((r) => r.name === 'overlays/example')?.objects ?? [];
    t.ok(
      overlay.every((o) => o.kind === 'Namespace' || o.metadata.namespace === 'mail'),
      'the overlay puts every object into namespace mail',
    );
    t.match(at(relayContainer(overlay), 'image'), /^registry\.example\.org\/mail\/starttls-relay:/);
    t.end();
  });

  void t.test(
    'every object validates against its schema (kubernetes-models, prometheus-operator)',
    async (t) => {
      // The validators are live: a wrong type is refused (unknown fields are not: next test).
      const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' } };
      const Deployment = await schemaOf(deployment);
      t.throws(
        () =>
          new Deployment!({
            ...deployment,
            spec: { replicas: 'two', selector: {}, template: {} },
          }).validate(),
        'replicas: "two" is refused',
      );
      for (const { name, objects } of targets) {
        for (const o of objects) {
          const Model = await schemaOf(o);
          if (o.kind === 'Certificate') {
            t.equal(Model, undefined, 'cert-manager: no schema shipped, checked by its allow-list');
            continue;
          }
          if (Model === undefined) {
            t.fail(`${name}: no schema for ${o.apiVersion} ${o.kind}`);
            continue;
          }
          t.doesNotThrow(() => new Model(o).validate(), `${name}: ${label(o)}`);
        }
      }
    },
  );

  void t.test(
    'no unknown or mistyped fields: typings for built-ins and ServiceMonitor, an allow-list for cert-manager',
    (t) => {
      // The check itself catches what the schemas let through: a misspelt key at any depth.
      const typo: KubeObject = {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'typo' },
        spec: { minAvailabe: 1 },
      };
      t.match(fieldErrors([typo]), [/PodDisruptionBudget\/typo: .*'"minAvailabe"' does not exist/]);
      t.same(unknownKeys({ spec: { privateKey: { algoritm: 'ECDSA' } } }, CERTIFICATE), [
        'spec.privateKey.algoritm',
      ]);

      for (const { name, objects } of targets) {
        const typed = objects.filter((o) => typingOf(o) !== undefined);
        t.same(fieldErrors(typed), [], `${name}: ${typed.length} objects against their typings`);
        for (const c of all(objects, 'Certificate')) {
          t.same(unknownKeys(c, CERTIFICATE), [], `${name}: ${label(c)} against its allow-list`);
        }
      }
      t.end();
    },
  );

  void t.test(
    "the ConfigMap's relay config passes validateConfig and fits the pod's mounts",
    (t) => {
      for (const { name, objects } of targets) {
        const { config } = relayConfig(objects);
        t.pass(`${name}: config.yaml is valid`);
        const args = at(relayContainer(objects), 'args') as unknown[];
        const configMount = mountOf(
          objects,
          (v) => at(v, 'configMap', 'name') === one(objects, 'ConfigMap').metadata.name,
        );
        t.same(
          args,
          ['--config', `${configMount}/config.yaml`],
          `${name}: --config names the mounted file`,
        );
        t.equal(
          mountOf(objects, (v) => at(v, 'emptyDir') !== undefined),
          config.stateDir,
          `${name}: stateDir is the emptyDir (the only writable path)`,
        );
        const users = config.auth?.usersFile ?? '';
        t.equal(
          mountOf(objects, (v) => at(v, 'secret', 'secretName') === 'starttls-relay-users'),
          users.slice(0, users.lastIndexOf('/')),
          `${name}: the users file is in the users Secret's directory mount (no subPath: updates arrive)`,
        );
        if (config.tls.cert !== undefined && config.tls.key !== undefined) {
          const certificate = one(objects, 'Certificate');
          const secret = at(certificate, 'spec', 'secretName');
          const tlsMount = mountOf(objects, (v) => at(v, 'secret', 'secretName') === secret);
          t.equal(
            config.tls.cert,
            `${tlsMount}/tls.crt`,
            `${name}: tls.cert from the Certificate's Secret`,
          );
          t.equal(
            config.tls.key,
            `${tlsMount}/tls.key`,
            `${name}: tls.key from the Certificate's Secret`,
          );
          t.ok(
            asArray(at(certificate, 'spec', 'dnsNames')).includes(config.hostname),
            `${name}: the certificate names the relay's hostname ${config.hostname}`,
          );
        }
        t.ok(
          asArray(at(one(objects, 'Deployment'), 'spec', 'template', 'spec', 'volumes')).every(
            (v) => at(v, 'secret') === undefined || mountOf(objects, (w) => w === v) !== undefined,
          ),
          `${name}: every Secret volume is mounted`,
        );
      }
      t.end();
    },
  );

  void t.test(
    'ports and probes match the config: listeners, metrics, Services, ServiceMonitor',
    (t) => {
      const servicePortFor = { mta: 25, submission: 587, submissions: 465 } as const;
      for (const { name, objects } of targets) {
        const { config } = relayConfig(objects);
        const container = relayContainer(objects);
        const ports = containerPorts(container);
        const listenerPorts = config.listeners.map((l) => l.port).sort();
        t.same(
          [...ports.values()].sort(),
          [...listenerPorts, config.metrics.port].sort(),
          `${name}: container ports are the listeners' and the metrics port, no more`,
        );
        for (const [probe, path] of [
          ['livenessProbe', '/healthz'],
          ['readinessProbe', '/readyz'],
        ] as const) {
          t.equal(at(container, probe, 'httpGet', 'path'), path, `${name}: ${probe} path`);
          t.equal(
            ports.get(at(container, probe, 'httpGet', 'port') as string),
            config.metrics.port,
            `${name}: ${probe} reaches metrics.port ${config.metrics.port}`,
          );
        }
        t.not(
          config.metrics.host,
          '127.0.0.1',
          `${name}: metrics listen beyond loopback (probes, scrapes)`,
        );

        const smtp = one(objects, 'Service', 'starttls-relay');
        t.equal(at(smtp, 'spec', 'type'), 'LoadBalancer');
        t.equal(
          at(smtp, 'spec', 'externalTrafficPolicy'),
          'Local',
          `${name}: client addresses preserved`,
        );
        const mapped = asArray(at(smtp, 'spec', 'ports')).map((p) => [
          at(p, 'port'),
          ports.get(at(p, 'targetPort') as string),
        ]);
        t.same(
          mapped.sort(),
          config.listeners.map((l) => [servicePortFor[l.mode], l.port]).sort(),
          `${name}: Service ports 25/587/465 reach the mta/submission/submissions listeners`,
        );
        const metrics = one(objects, 'Service', 'starttls-relay-metrics');
        t.equal(
          at(metrics, 'spec', 'type'),
          'ClusterIP',
          `${name}: metrics stay inside the cluster`,
        );
        const metricsPort = asArray(at(metrics, 'spec', 'ports'))[0];
        t.equal(ports.get(at(metricsPort, 'targetPort') as string), config.metrics.port);
        const monitor = one(objects, 'ServiceMonitor');
        t.ok(
          selects(at(monitor, 'spec', 'selector', 'matchLabels'), metrics.metadata.labels),
          `${name}: the ServiceMonitor selects the metrics Service`,
        );
        t.notOk(
          selects(at(monitor, 'spec', 'selector', 'matchLabels'), smtp.metadata.labels),
          `${name}: …and not the SMTP Service`,
        );
        t.same(
          asArray(at(monitor, 'spec', 'endpoints')).map((e) => [at(e, 'port'), at(e, 'path')]),
          [[at(metricsPort, 'name'), '/metrics']],
          `${name}: scraped on the metrics Service's port, /metrics`,
        );
      }
      t.end();
    },
  );

  void t.test(
    'selectors, the autoscaler, the disruption budget and the network policy fit the pods',
    (t) => {
      for (const { name, objects } of targets) {
        const deployment = one(objects, 'Deployment');
        const podLabels = at(deployment, 'spec', 'template', 'metadata', 'labels');
        t.ok(
          selects(at(deployment, 'spec', 'selector', 'matchLabels'), podLabels),
          `${name}: Deployment selector`,
        );
        for (const service of all(objects, 'Service')) {
          t.ok(
            selects(at(service, 'spec', 'selector'), podLabels),
            `${name}: ${label(service)} selects the pods`,
          );
        }
        t.ok(
          selects(
            at(one(objects, 'PodDisruptionBudget'), 'spec', 'selector', 'matchLabels'),
            podLabels,
          ),
          `${name}: PodDisruptionBudget selects the pods`,
        );
        t.equal(at(one(objects, 'PodDisruptionBudget'), 'spec', 'maxUnavailable'), 1);

        const hpa = one(objects, 'HorizontalPodAutoscaler');
        t.same(at(hpa, 'spec', 'scaleTargetRef'), {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: deployment.metadata.name,
        });
        t.ok((at(hpa, 'spec', 'minReplicas') as number) >= 2, `${name}: at least two replicas`);
        t.match(at(hpa, 'spec', 'metrics'), [{ type: 'Resource', resource: { name: 'cpu' } }]);
        t.equal(at(deployment, 'spec', 'replicas'), undefined, `${name}: replicas left to the HPA`);
        t.ok(
          at(relayContainer(objects), 'resources', 'requests', 'cpu') !== undefined,
          `${name}: a CPU request, which the HPA's utilization is measured against`,
        );

        const policy = one(objects, 'NetworkPolicy');
        t.ok(
          selects(at(policy, 'spec', 'podSelector', 'matchLabels'), podLabels),
          `${name}: NetworkPolicy selects the pods`,
        );
        t.same(at(policy, 'spec', 'policyTypes'), ['Ingress', 'Egress']);
        const ingress = asArray(at(policy, 'spec', 'ingress'));
        const open = ingress.filter((r) => at(r, 'from') === undefined);
        t.same(
          open.flatMap((r) => asArray(at(r, 'ports')).map((p) => at(p, 'port'))).sort(),
          ['smtp', 'submission', 'submissions'],
          `${name}: SMTP ports open to anyone, nothing else`,
        );
        t.match(
          ingress.find((r) => at(r, 'from') !== undefined),
          {
            from: [
              {
                namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
              },
            ],
            ports: [{ port: 'metrics' }],
          },
          `${name}: metrics from the monitoring namespace only`,
        );
        const egress = asArray(at(policy, 'spec', 'egress')).flatMap((r) =>
          asArray(at(r, 'ports')).map(
            (p) => `${String(at(p, 'port'))}/${String(at(p, 'protocol'))}`,
          ),
        );
        t.same(
          egress.sort(),
          ['25/TCP', '443/TCP', '465/TCP', '53/TCP', '53/UDP', '587/TCP'],
          `${name}: egress DNS, SMTP next hops, HTTPS (MTA-STS)`,
        );
      }
      t.end();
    },
  );

  void t.test(
    'restricted pod security and a graceful stop longer than preStop plus the drain',
    (t) => {
      for (const { name, objects } of targets) {
        const pod = at(one(objects, 'Deployment'), 'spec', 'template', 'spec');
        const container = relayContainer(objects);
        t.match(
          pod,
          {
            automountServiceAccountToken: false,
            securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          },
          `${name}: pod security context`,
        );
        t.ok(
          (at(pod, 'securityContext', 'runAsUser') as number) > 0,
          `${name}: a numeric non-root uid`,
        );
        t.match(
          at(container, 'securityContext'),
          {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
          `${name}: container security context`,
        );
        t.equal(
          at(container, 'securityContext', 'capabilities', 'add'),
          undefined,
          `${name}: no capability added`,
        );
        t.equal(
          at(one(objects, 'ServiceAccount'), 'automountServiceAccountToken'),
          false,
          `${name}: the ServiceAccount mounts no token either`,
        );
        t.ok(
          at(container, 'resources', 'limits', 'memory') !== undefined,
          `${name}: a memory limit`,
        );

        const drain = relayConfig(objects).config.shutdown.drainSeconds;
        const preStop = at(container, 'lifecycle', 'preStop', 'sleep', 'seconds');
        t.type(
          preStop,
          'number',
          `${name}: a preStop sleep lets the load balancer stop sending first`,
        );
        const grace = at(pod, 'terminationGracePeriodSeconds') as number;
        t.ok(
          grace >= (preStop as number) + drain + 10,
          `${name}: terminationGracePeriodSeconds ${grace} ≥ preStop ${String(preStop)} + drain ${drain} + 10`,
        );
      }
      t.end();
    },
  );

  void t.test('every referenced ConfigMap and Secret exists, is issued, or is documented', (t) => {
    for (const { name, objects } of targets) {
      const volumes = asArray(
        at(one(objects, 'Deployment'), 'spec', 'template', 'spec', 'volumes'),
      );
      const configMaps = new Set(all(objects, 'ConfigMap').map((c) => c.metadata.name));
      const issued = new Set([
        ...all(objects, 'Secret').map((s) => s.metadata.name),
        ...all(objects, 'Certificate').map((c) => at(c, 'spec', 'secretName') as string),
        ...SECRETS_MADE_BY_THE_OPERATOR,
      ]);
      for (const v of volumes) {
        const cm = at(v, 'configMap', 'name');
        if (typeof cm === 'string')
          t.ok(configMaps.has(cm), `${name}: ConfigMap ${cm} is rendered`);
        const secret = at(v, 'secret', 'secretName');
        if (typeof secret === 'string')
          t.ok(issued.has(secret), `${name}: Secret ${secret} has a source`);
      }
    }
    t.end();
  });

  void t.test(
    'the commented PROXY protocol example in the overlay config is valid once uncommented',
    async (t) => {
      const file = resolve(KUBERNETES_DIR, 'overlays/example/config.yaml');
      const text = await readFile(file, 'utf8');
      const uncommented = text.replace(/^(\s*)# (proxyProtocol|proxyFrom):/gm, '$1$2:');
      t.not(uncommented, text, 'the example is there');
      const result = validateConfig(parse(uncommented), '/etc/starttls-relay/config');
      t.same(result.ok ? [] : result.errors, [], 'passes validateConfig');
      if (result.ok) {
        t.match(result.config.listeners[0], { name: 'mta', proxyProtocol: true });
        t.ok((result.config.listeners[0]?.proxyFrom.length ?? 0) > 0, 'with the trusted addresses');
      }
    },
  );

  void t.test(
    'the Certificate: ECDSA P-256, renewed well before expiry, issued by a (Cluster)Issuer',
    (t) => {
      const objects = targets.find((r) => r.name === 'overlays/example')?.objects ?? [];
      const spec = at(one(objects, 'Certificate'), 'spec');
      t.match(spec, { privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' } });
      t.match(at(spec, 'issuerRef', 'kind'), /^(Cluster)?Issuer$/);
      const hours = (d: unknown): number => {
        const m = /^(\d+)h$/.exec(String(d));
        if (!m) throw new Error(`expected a duration in hours, got ${String(d)}`);
        return Number(m[1]);
      };
      const duration = hours(at(spec, 'duration'));
      const renewBefore = hours(at(spec, 'renewBefore'));
      t.ok(
        renewBefore < duration && renewBefore >= 14 * 24,
        'renewed before the 14-day expiry alert',
      );
      t.end();
    },
  );
}

if (kubectl) {
  defineTests(
    await Promise.all(
      ['base', 'overlays/example'].map(async (name): Promise<Rendered> => ({
        name,
        objects: await render(kubectl, resolve(KUBERNETES_DIR, name)),
      })),
    ),
  );
}
