/** @module The transaction log line and the per-transaction metrics, from one TransactionRecord. */
import type { TransactionRecord, TransactionSink } from '../relay/record.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { tlsVersionLabel } from './metrics.js';

export function transactionSink(logger: Logger, metrics: Metrics): TransactionSink {
  return {
    recipient(outcome, source) {
      metrics.recipients.inc({ outcome, source });
    },
    finished(record: Readonly<TransactionRecord>, durationMs: number) {
      const { inbound, outbound } = record;
      logger.info(
        {
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
          outboundTls: outbound
            ? {
                starttls: outbound.starttls,
                ...(outbound.starttlsError !== undefined
                  ? { starttlsError: outbound.starttlsError }
                  : {}),
                protocol: outbound.tls.protocol,
                cipher: outbound.tls.cipher,
                verified: outbound.tls.verified,
                ...(outbound.tls.verifyError !== undefined
                  ? { verifyError: outbound.tls.verifyError }
                  : {}),
                ...(outbound.tls.peerSubject !== undefined
                  ? { peerSubject: outbound.tls.peerSubject }
                  : {}),
                ...(outbound.tls.peerNotAfter !== undefined
                  ? { peerNotAfter: outbound.tls.peerNotAfter }
                  : {}),
              }
            : null,
          recipients: record.recipients.map((r) => ({
            to: r.address,
            reply: r.reply,
            source: r.source,
          })),
          size: record.size ?? null,
          final: record.final ?? null,
          outcome: record.outcome,
          durationMs,
        },
        'transaction',
      );
      const outcome = record.outcome;
      if (outcome === undefined || outcome === 'abandoned') return;
      metrics.messages.inc({ outcome });
      metrics.relayDuration.observe({ outcome }, durationMs / 1000);
      if (outcome === 'delivered') {
        if (record.size !== undefined) metrics.messageSize.observe(record.size);
        metrics.hopTls.inc({
          hop: 'inbound',
          tls_version: tlsVersionLabel(inbound.tls.protocol),
          verified: String(inbound.tls.verified),
        });
        if (outbound) {
          metrics.hopTls.inc({
            hop: 'outbound',
            tls_version: tlsVersionLabel(outbound.tls.protocol),
            verified: String(outbound.tls.verified),
          });
        }
      }
    },
  };
}
