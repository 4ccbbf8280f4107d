/**
 * @module A destination domain's MTA-STS policy for outbound delivery (RFC 8461): the `_mta-sts`
 * TXT id, the cache, and the HTTPS fetch when the id is new, behind one call, policyFor().
 */
import type { promises as dns } from 'node:dns';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { cachedPolicy, PolicyCache, type CachedPolicy } from './cache.js';
import { fetchPolicyText, policyUrl, type FetchFailure } from './fetch.js';
import type { StsLookup, StsPolicy, StsResultType } from './model.js';
import { mxMatches, parsePolicy } from './policy.js';
import { lookupStsRecord } from './record.js';
import { loadState, serialiseState, StateWriter } from './state-file.js';

export type { StsLookup, StsPolicy, StsResultType } from './model.js';

/**
 * RFC 8461 §3.3 lets a sender wait up to a minute; the relay waits less because the client's
 * RCPT is waiting on the answer (a pass-through relay looks the policy up at RCPT time).
 */
export const DEFAULT_FETCH_TIMEOUT_MS = 15_000;
export const DEFAULT_MAX_ENTRIES = 10_000;

export interface MtaStsSourceDeps {
  readonly resolver: Pick<dns.Resolver, 'resolveTxt' | 'resolve4' | 'resolve6'>;
  /** 443 unless a test serves the policy elsewhere. */
  readonly httpsPort?: number;
  /** PEM trust anchors for the policy host; default Node's bundled roots. */
  readonly ca?: string;
  /** For one whole fetch, every address of the policy host; default DEFAULT_FETCH_TIMEOUT_MS. */
  readonly timeoutMs?: number;
  /** Cached policies at most; default DEFAULT_MAX_ENTRIES. */
  readonly maxEntries?: number;
  /** Milliseconds since the epoch; tests move it to expire policies. */
  readonly now?: () => number;
  readonly metrics?: Metrics;
  /** A JSON file the cache is kept in across restarts; none by default (per instance, in memory). */
  readonly statePath?: string;
  /** Fetch failures and state-file trouble are logged here when given. */
  readonly logger?: Pick<Logger, 'info' | 'warn'>;
}

const RESULT_TYPE: Readonly<Record<FetchFailure, StsResultType>> = {
  fetch: 'sts-policy-fetch-error',
  webpki: 'sts-webpki-invalid',
  invalid: 'sts-policy-invalid',
};

const FETCH_LABEL: Readonly<Record<StsResultType, string>> = {
  'sts-policy-fetch-error': 'fetch_error',
  'sts-webpki-invalid': 'webpki_invalid',
  'sts-policy-invalid': 'invalid',
};

const LABEL = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
const DOMAIN = new RegExp(`^${LABEL}(\\.${LABEL})+$`);

const NONE: StsLookup = { kind: 'none' };

type Fetched =
  | { readonly kind: 'policy'; readonly policy: StsPolicy }
  | { readonly kind: 'failed'; readonly resultType: StsResultType; readonly error: string };

export class MtaStsSource {
  readonly #deps: MtaStsSourceDeps;
  readonly #now: () => number;
  readonly #cache: PolicyCache;
  readonly #writer: StateWriter | undefined;
  /** One lookup per domain at a time: concurrent callers share it (and its one fetch). */
  readonly #pending = new Map<string, Promise<StsLookup>>();

  constructor(deps: MtaStsSourceDeps) {
    this.#deps = deps;
    this.#now = deps.now ?? Date.now;
    const statePath = deps.statePath;
    this.#writer =
      statePath === undefined
        ? undefined
        : new StateWriter(
            statePath,
            () => serialiseState(this.#cache.entries()),
            (error) => deps.logger?.warn({ error }, 'MTA-STS state file not written'),
          );
    this.#cache = new PolicyCache(deps.maxEntries ?? DEFAULT_MAX_ENTRIES, () => {
      deps.metrics?.mtaStsCacheEntries.set(this.#cache.size);
      this.#writer?.changed();
    });
    if (statePath !== undefined) {
      const loaded = loadState(statePath, this.#now());
      if (!loaded.ok)
        deps.logger?.warn({ error: loaded.error }, 'MTA-STS state file ignored; cache empty');
      for (const [domain, entry] of loaded.entries) this.#cache.set(domain, entry);
    }
    deps.metrics?.mtaStsCacheEntries.set(this.#cache.size);
  }

  /** RFC 8461 §4.1: some `mx` pattern of the policy matches the MX host (the mode is not read). */
  static mxAllowed(policy: StsPolicy, mxHost: string): boolean {
    return policy.mx.some((pattern) => mxMatches(pattern, mxHost));
  }

  /** The domain's policy (`domain` in A-label form); never rejects. */
  policyFor(domain: string): Promise<StsLookup> {
    const name = domain.toLowerCase().replace(/\.$/, '');
    const pending = this.#pending.get(name);
    if (pending !== undefined) return pending;
    const lookup = this.#lookup(name).then((result) => {
      this.#deps.metrics?.mtaStsLookups.inc({ outcome: outcomeLabel(result) });
      return result;
    });
    const shared = lookup.finally(() => this.#pending.delete(name));
    this.#pending.set(name, shared);
    return shared;
  }

  /** Writes a pending cache change to `statePath` now (at shutdown); no-op without a file. */
  async flush(): Promise<void> {
    await this.#writer?.flush();
  }

  async #lookup(domain: string): Promise<StsLookup> {
    if (!DOMAIN.test(domain)) return NONE;
    const record = await lookupStsRecord(this.#deps.resolver, domain);
    const cached = this.#cache.get(domain, this.#now());
    // §5.1: a cached policy outlives a missing record or a failed lookup until it expires; a
    // domain leaves MTA-STS by publishing `mode: none` (§8.3), never by losing its record.
    if (record.kind !== 'present') return cached ? fromCache(cached) : NONE;
    // §5.1: the same id means the cached policy is current: no fetch.
    if (cached?.policy.id === record.id) return fromCache(cached);
    const fetched = await this.#fetch(domain, record.id);
    if (fetched.kind === 'policy') return { kind: 'policy', policy: fetched.policy, from: 'fetch' };
    // §5.1: a failed refresh keeps the cached, unexpired policy in force.
    const still = this.#cache.get(domain, this.#now());
    return still ? fromCache(still) : fetched;
  }

  async #fetch(domain: string, id: string): Promise<Fetched> {
    const fetched = await fetchPolicyText(domain, {
      resolver: this.#deps.resolver,
      httpsPort: this.#deps.httpsPort ?? 443,
      ca: this.#deps.ca,
      timeoutMs: this.#deps.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS,
    }).catch((err: unknown) => ({
      // Only a setup fault (an unreadable `ca`) throws; policyFor() still answers.
      ok: false as const,
      failure: 'fetch' as const,
      error: err instanceof Error ? err.message : String(err),
    }));
    let result: Fetched;
    if (!fetched.ok) {
      result = { kind: 'failed', resultType: RESULT_TYPE[fetched.failure], error: fetched.error };
    } else {
      const parsed = parsePolicy(fetched.text);
      result =
        parsed.errors.length > 0 || parsed.mode === null || parsed.maxAge === null
          ? { kind: 'failed', resultType: 'sts-policy-invalid', error: parsed.errors.join('; ') }
          : {
              kind: 'policy',
              policy: { mode: parsed.mode, mx: parsed.mx, maxAgeSeconds: parsed.maxAge, id },
            };
    }
    const { metrics, logger } = this.#deps;
    if (result.kind === 'policy') {
      // §5.1: every valid policy is cached, `mode: none` included, for max_age seconds.
      this.#cache.set(domain, cachedPolicy(result.policy, this.#now()));
      metrics?.mtaStsFetches.inc({ result: 'ok' });
      logger?.info(
        { domain, id, mode: result.policy.mode, maxAge: result.policy.maxAgeSeconds },
        'MTA-STS policy fetched',
      );
    } else {
      metrics?.mtaStsFetches.inc({ result: FETCH_LABEL[result.resultType] });
      logger?.warn(
        { domain, id, url: policyUrl(domain), resultType: result.resultType, error: result.error },
        'MTA-STS policy not fetched',
      );
    }
    return result;
  }
}

function fromCache(entry: CachedPolicy): StsLookup {
  return { kind: 'policy', policy: entry.policy, from: 'cache' };
}

function outcomeLabel(result: StsLookup): 'none' | 'cache' | 'fetch' | 'failed' {
  return result.kind === 'policy' ? result.from : result.kind;
}
