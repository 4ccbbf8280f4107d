/** @module The transaction log line and the per-transaction metrics, from one TransactionRecord. */
import type { HopFacts } from '../outbound/open-hop.js';
import type { TransactionRecord, TransactionSink } from '../relay/record.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { tlsVersionLabel } from './metrics.js';

export function transactionSink(logger: Logger, metrics: Metrics): TransactionSink {
  return {
    recipient(outcome, source) {
      metrics.recipients.inc({ outcome, source });
    },
    finished(record, durationMs) {
      if (logger.isLevelEnabled('info'))
        logger.info(transactionLine(record, durationMs), 'transaction');
      countTransaction(metrics, record, durationMs);
    },
  };
}

/** Optional facts appear only when known, so absent never reads as false. */
function outboundTls(hop: HopFacts): Record<string, unknown> {
  const { tls } = hop;
  return {
    starttls: hop.starttls,
    ...(hop.starttlsError !== undefined ? { starttlsError: hop.starttlsError } : {}),
    // A warm session from the connection cache, and a TLS session resumed from an earlier one.
    ...(hop.reused === true ? { reused: true } : {}),
    ...(tls.resumed === true ? { resumed: true } : {}),
    protocol: tls.protocol,
    cipher: tls.cipher,
    verified: tls.verified,
    ...(tls.verifyError !== undefined ? { verifyError: tls.verifyError } : {}),
    ...(tls.peerSubject !== undefined ? { peerSubject: tls.peerSubject } : {}),
    ...(tls.peerNotAfter !== undefined ? { peerNotAfter: tls.peerNotAfter } : {}),
  };
}

/** One line joining both hops: the schema operators grep and ship. Never a credential. */
export function transactionLine(
  record: Readonly<TransactionRecord>,
  durationMs: number,
): Record<string, unknown> {
  const { inbound, outbound } = record;
  return {
    event: 'transaction',
    tx: record.id,
    session: inbound.sessionId,
    listener: inbound.listener,
    client: {
      address: inbound.clientAddress,
      port: inbound.clientPort,
      helo: inbound.helo ?? null,
    },
    inboundTls: { protocol: inbound.tls.protocol, cipher: inbound.tls.cipher },
    ...(inbound.user !== undefined ? { user: inbound.user } : {}),
    mailFrom: record.mailFrom,
    nextHop: record.nextHop
      ? {
          domain: record.nextHop.domain,
          source: record.nextHop.source,
          ...(outbound
            ? {
                host: outbound.host,
                address: outbound.address,
                port: outbound.port,
                mxPreference: outbound.mxPreference,
              }
            : {}),
        }
      : null,
    ...(record.failedAttempts ? { failedAttempts: record.failedAttempts } : {}),
    outboundTls: outbound ? outboundTls(outbound) : null,
    // Which policy applied to the session that carried the mail, and whether each check passed.
    ...(outbound ? { outboundPolicy: outbound.policy } : {}),
    recipients: record.recipients.map((r) => ({ to: r.address, reply: r.reply, source: r.source })),
    recipientCount: record.recipientCount,
    size: record.size ?? null,
    final: record.final ?? null,
    outcome: record.outcome,
    durationMs,
  };
}

function countTransaction(
  metrics: Metrics,
  record: Readonly<TransactionRecord>,
  durationMs: number,
): void {
  const outcome = record.outcome;
  if (outcome === undefined || outcome === 'abandoned') return;
  metrics.messages.inc({ outcome });
  metrics.relayDuration.observe({ outcome }, durationMs / 1000);
  if (outcome !== 'delivered') return;
  if (record.size !== undefined) metrics.messageSize.observe(record.size);
  const { inbound, outbound } = record;
  metrics.hopTls.inc({
    hop: 'inbound',
    tls_version: tlsVersionLabel(inbound.tls.protocol),
    verified: String(inbound.tls.verified),
  });
  if (outbound) {
    metrics.tlsPaths.inc({
      inbound: inbound.tls.protocol ? 'tls' : 'none',
      outbound: outbound.tls.protocol ? 'tls' : 'none',
    });
    metrics.hopTls.inc({
      hop: 'outbound',
      tls_version: tlsVersionLabel(outbound.tls.protocol),
      verified: String(outbound.tls.verified),
    });
  }
}
