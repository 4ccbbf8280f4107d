/** @module Configuration loading: YAML file → validated, frozen Config, or every error at once. */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';

export type LoadResult =
  | { readonly ok: true; readonly config: Config }
  | { readonly ok: false; readonly errors: readonly string[] };

/** `listeners[0].port` from zod's path segments. */
export function keyPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((acc, seg) => {
    if (typeof seg === 'number') return `${acc}[${seg}]`;
    return acc === '' ? String(seg) : `${acc}.${String(seg)}`;
  }, '');
}

function describeIssue(issue: z.core.$ZodIssue): string[] {
  const at = keyPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${keyPath([...issue.path, k])}: unknown key`);
  }
  return [`${at === '' ? '(top level)' : at}: ${issue.message}`];
}

/** Validates an already-parsed document; relative paths resolve against `baseDir`. */
export function validateConfig(document: unknown, baseDir: string): LoadResult {
  const parsed = configSchema.safeParse(document ?? {});
  if (!parsed.success) {
    return { ok: false, errors: parsed.error.issues.flatMap(describeIssue) };
  }
  const c = parsed.data;
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const config: Config = {
    ...c,
    stateDir: abs(c.stateDir),
    tls: {
      ...c.tls,
      ...(c.tls.cert !== undefined ? { cert: abs(c.tls.cert) } : {}),
      ...(c.tls.key !== undefined ? { key: abs(c.tls.key) } : {}),
      ...(c.tls.rsaCert !== undefined ? { rsaCert: abs(c.tls.rsaCert) } : {}),
      ...(c.tls.rsaKey !== undefined ? { rsaKey: abs(c.tls.rsaKey) } : {}),
    },
    ...(c.auth
      ? {
          auth: {
            ...c.auth,
            ...(c.auth.usersFile !== undefined ? { usersFile: abs(c.auth.usersFile) } : {}),
          },
        }
      : {}),
    routes: c.routes.map((r) => ({
      ...r,
      ...(r.ca !== undefined ? { ca: abs(r.ca) } : {}),
      ...(r.clientCert !== undefined ? { clientCert: abs(r.clientCert) } : {}),
      ...(r.clientKey !== undefined ? { clientKey: abs(r.clientKey) } : {}),
    })),
  };
  return { ok: true, config: deepFreeze(config) };
}

/** Reads and validates a YAML file. YAML syntax errors carry their line and column. */
export async function loadConfigFile(path: string): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return { ok: false, errors: [`${path}: cannot read: ${(err as Error).message}`] };
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return { ok: false, errors: doc.errors.map((e) => `${path}: ${e.message}`) };
  }
  return validateConfig(doc.toJS(), dirname(resolve(path)));
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
