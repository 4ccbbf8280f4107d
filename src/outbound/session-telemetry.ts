/**
 * @module What each judged next-hop session leaves behind: metrics, the destination's TLS history
 * (and a downgrade when it fell below its best), and a TLS-RPT count for MX destinations
 * (RFC 8460 §4.2: one per session, successful or failed with its result type).
 */
import type { TlsHistory } from '../history/tls-history.js';
import type { StsLookup } from '../mta-sts/source.js';
import type { Logger } from '../telemetry/logger.js';
import { tlsVersionLabel, type DowngradeReason, type Metrics } from '../telemetry/metrics.js';
import type { TlsRptPolicy } from '../tls-rpt/model.js';
import type { TlsRptStore } from '../tls-rpt/store.js';
import { meets, type TlsLevel } from '../tls/level.js';
import { destinationOf } from './destination.js';
import type { HopPolicy } from './hop-policy.js';
import type { SessionReport } from './open-hop.js';

export interface SessionTelemetryDeps {
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly history?: Pick<TlsHistory, 'observe'>;
  readonly tlsRpt?: Pick<TlsRptStore, 'record'>;
  /** Count sessions to domains without an MTA-STS policy in TLS-RPT too. */
  readonly tlsRptNoPolicy?: boolean;
  readonly now?: () => Date;
}

function downgradeReason(report: SessionReport): DowngradeReason {
  switch (report.tlsFailure) {
    case 'not_offered':
      return 'not_offered';
    case 'refused':
      return 'starttls_refused';
    case 'handshake':
      return 'handshake_failed';
    default:
      return 'unverified';
  }
}

/** RFC 8460 §4.4: the policy lines as published (`policy-string`), rebuilt from the parsed form. */
function rptPolicy(policy: HopPolicy): TlsRptPolicy {
  const sts = policy.sts;
  if (!sts || sts.mode === 'none') return { type: 'no-policy-found' };
  return {
    type: 'sts',
    string: ['version: STSv1', `mode: ${sts.mode}`, ...sts.mx.map((m) => `mx: ${m}`)],
    mxHost: sts.mx,
  };
}

export class SessionTelemetry {
  constructor(private readonly deps: SessionTelemetryDeps) {}

  /** One judged session (or an MX host refused by name). */
  session(report: SessionReport): void {
    const { metrics } = this.deps;
    if (report.starttls !== null) metrics.startTls(report.starttls);
    if (report.tls.protocol !== null) {
      metrics.outboundTlsHandshakes.inc({
        tls_version: tlsVersionLabel(report.tls.protocol),
        verified: String(report.tls.verified),
      });
    }
    if (report.resultType !== undefined) {
      metrics.outboundTlsFailures.inc({ result_type: report.resultType });
    }
    for (const check of report.failed) {
      metrics.outboundPolicyFailures.inc({
        policy: check.source,
        enforced: String(check.enforced),
      });
    }
    if (report.address !== null) this.#history(report);
    this.#tlsRpt(report);
  }

  /** An MTA-STS lookup that found a policy published but unusable (RFC 8460 §4.3.2.2). */
  stsLookupFailed(domain: string, sts: StsLookup): void {
    if (sts.kind !== 'failed') return;
    this.deps.logger.warn(
      { domain, resultType: sts.resultType, error: sts.error },
      'MTA-STS policy published but not usable',
    );
    this.deps.tlsRpt?.record(
      {
        policyDomain: domain,
        policy: { type: 'no-policy-found' },
        result: { ok: false, resultType: sts.resultType, failureReasonCode: sts.error },
      },
      this.#now(),
    );
  }

  #history(report: SessionReport): void {
    const history = this.deps.history;
    if (!history) return;
    const destination = destinationOf(report.nextHop);
    const reached: TlsLevel = report.tls.level;
    const before = history.observe(destination, reached);
    if (before === undefined || before === 'none' || meets(reached, before)) return;
    const reason = downgradeReason(report);
    this.deps.metrics.tlsDowngrades.inc({ reason });
    this.deps.logger.warn(
      {
        event: 'tls_downgrade',
        destination,
        host: report.host,
        address: report.address,
        before,
        reached,
        reason,
        enforced: report.failed.some((c) => c.source === 'history' && c.enforced),
      },
      'TLS downgrade',
    );
  }

  #tlsRpt(report: SessionReport): void {
    const store = this.deps.tlsRpt;
    if (!store || report.nextHop.source !== 'mx') return;
    const policy = rptPolicy(report.policy);
    if (policy.type === 'no-policy-found' && this.deps.tlsRptNoPolicy !== true) return;
    const failedSts = report.failed.some((c) => c.source === 'mta-sts');
    // No policy: a session counts as successful when it negotiated TLS (RFC 8460 §4.3.1).
    const ok =
      policy.type === 'sts'
        ? !failedSts && report.tls.level !== 'none'
        : report.tls.level !== 'none';
    store.record(
      {
        policyDomain: report.nextHop.domain,
        policy,
        result: ok
          ? { ok: true }
          : {
              ok: false,
              resultType: report.resultType ?? 'validation-failure',
              receivingMxHostname: report.host,
              ...(report.address !== null ? { receivingIp: report.address } : {}),
              ...(report.tls.verifyError !== undefined
                ? { failureReasonCode: report.tls.verifyError }
                : {}),
            },
      },
      this.#now(),
    );
  }

  #now(): Date {
    return (this.deps.now ?? (() => new Date()))();
  }
}
