/**
 * @module Rendered Kubernetes manifests for the deploy tests: `kubectl kustomize` output parsed
 * into objects, lookups by kind, and an unknown-field check that type-checks each object as an
 * object literal against kubernetes-models' TypeScript interfaces (their JSON schemas allow
 * unknown fields, TypeScript's excess-property check does not).
 */
import { resolve } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import { describeRun, runTool } from '../support/tools.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const KUBERNETES_DIR = resolve(ROOT, 'deploy/kubernetes');

/** The part of any Kubernetes object these tests read; the rest is reached through `Json`. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [key: string]: unknown;
}

/** Renders a kustomization directory with kubectl (kustomize v5 inside) and parses every document. */
export async function render(kubectl: string, dir: string): Promise<KubeObject[]> {
  const args = ['kustomize', dir];
  const run = await runTool(kubectl, args, { timeoutMs: 60_000 });
  if (run.code !== 0) throw new Error(describeRun(kubectl, args, run));
  const objects: KubeObject[] = [];
  for (const doc of parseAllDocuments(run.stdout)) {
    if (doc.errors.length > 0) throw new Error(`${dir}: ${doc.errors[0]?.message ?? ''}`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) objects.push(value as KubeObject);
  }
  return objects;
}

export function all(objects: readonly KubeObject[], kind: string): KubeObject[] {
  return objects.filter((o) => o.kind === kind);
}

/** The one object of `kind` (and `name`, when given); throws when there is none or several. */
export function one(objects: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const found = all(objects, kind).filter((o) => name === undefined || o.metadata.name === name);
  if (found.length !== 1) {
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  }
  return found[0] as KubeObject;
}

/** Walks `path` through objects and arrays; undefined where it leads nowhere. */
export function at(value: unknown, ...path: readonly (string | number)[]): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[key];
  }
  return v;
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : [];
}

/** `kind/name` for messages. */
export const label = (o: KubeObject): string => `${o.kind}/${o.metadata.name}`;

/** The TypeScript interface (module, name) describing an object's kind, if a package ships one. */
export function typingOf(o: Pick<KubeObject, 'apiVersion' | 'kind'>): string | undefined {
  if (o.apiVersion.startsWith('monitoring.coreos.com/')) {
    return `@kubernetes-models/prometheus-operator/${o.apiVersion}/${o.kind}`;
  }
  const group = o.apiVersion.includes('/') ? (o.apiVersion.split('/')[0] ?? '') : '';
  // Built-in groups: the core group, `apps`, `policy`…, and *.k8s.io. Anything else is a CRD.
  if (group.includes('.') && !group.endsWith('.k8s.io')) return undefined;
  return `kubernetes-models/${o.apiVersion}/${o.kind}`;
}

/**
 * Every unknown or mistyped field of `objects`, found by compiling `const x: IKind = {…}` for
 * each against the shipped typings (an in-memory program; nothing is written). One message per
 * diagnostic, prefixed with the object's kind and name.
 */
export function fieldErrors(objects: readonly KubeObject[]): string[] {
  const file = resolve(ROOT, 'test/deploy/__manifest-fields__.ts');
  const lines: string[] = [];
  const owners: string[] = [];
  objects.forEach((o, i) => {
    const module = typingOf(o);
    if (module === undefined) throw new Error(`no typings for ${o.apiVersion} ${o.kind}`);
    lines.push(`import type { I${o.kind} as T${i} } from '${module}';`);
    owners.push('');
  });
  objects.forEach((o, i) => {
    lines.push(`export const o${i}: T${i} = ${JSON.stringify(o)};`);
    owners.push(label(o));
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    lib: ['lib.es5.d.ts'],
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === file
      ? ts.createSourceFile(name, source, languageVersion)
      : getSourceFile(name, languageVersion, ...rest);
  host.fileExists = (name) => name === file || fileExists(name);
  host.readFile = (name) => (name === file ? source : readFile(name));
  const program = ts.createProgram([file], options, host);
  const sourceFile = program.getSourceFile(file);
  if (!sourceFile) throw new Error('the in-memory source file was not created');
  return [
    ...program.getSyntacticDiagnostics(sourceFile),
    ...program.getSemanticDiagnostics(sourceFile),
  ].map((d) => {
    const line =
      d.start === undefined ? -1 : sourceFile.getLineAndCharacterOfPosition(d.start).line;
    const owner = owners[line] || `line ${line + 1}`;
    return `${owner}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

/** The shape of a CRD without shipped typings: nested allowed keys; 'map' = any keys. */
export type Shape = { readonly [key: string]: true | 'map' | Shape };

/** Paths of keys that `shape` does not allow (arrays are checked element by element). */
export function unknownKeys(value: unknown, shape: Shape, path = ''): string[] {
  if (Array.isArray(value)) {
    return value.flatMap((v, i) => unknownKeys(v, shape, `${path}[${i}]`));
  }
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, v]) => {
    const allowed = shape[key];
    const here = path === '' ? key : `${path}.${key}`;
    if (allowed === undefined) return [here];
    if (allowed === true || allowed === 'map') return [];
    return unknownKeys(v, allowed, here);
  });
}
