/** @module What one relay transaction did, hop by hop: the data behind the log line and metrics. */
import type { TlsFacts } from '../outbound/tls-facts.js';
import type { FailedAttempt, HopFacts } from '../outbound/open-hop.js';

export interface InboundFacts {
  readonly listener: string;
  readonly sessionId: string;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly clientHostname: string | undefined;
  readonly helo: string | undefined;
  readonly ehlo: boolean;
  readonly tls: TlsFacts;
  readonly user: string | undefined;
}

export interface RecipientRecord {
  readonly address: string;
  /** The decisive reply: the next hop's own (the client sees its 2xx as `250 Accepted`) or ours. */
  readonly reply: string;
  readonly source: 'next_hop' | 'relay';
}

export type TransactionOutcome =
  | 'delivered'
  | 'rejected'
  | 'deferred'
  | 'aborted'
  /** Ended by RSET, a new MAIL, or the session closing before DATA. */
  | 'abandoned';

export interface TransactionRecord {
  readonly id: string;
  readonly startedAt: number;
  readonly mailFrom: string;
  readonly inbound: InboundFacts;
  nextHop?: { readonly domain: string; readonly source: 'route' | 'mx' };
  outbound?: HopFacts;
  /** Addresses that could not be used before the one that answered. */
  failedAttempts?: readonly FailedAttempt[];
  /** The first recipients with their replies (at most 100); `recipientCount` counts them all. */
  readonly recipients: RecipientRecord[];
  recipientCount: number;
  size?: number;
  final?: string;
  outcome?: TransactionOutcome;
}

/** Where finished transactions go: the logger and the metrics. */
export interface TransactionSink {
  finished(record: Readonly<TransactionRecord>, durationMs: number): void;
  recipient(outcome: 'accepted' | 'rejected' | 'deferred', source: 'next_hop' | 'relay'): void;
}
