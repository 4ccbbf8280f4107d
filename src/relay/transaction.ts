/**
 * @module The pass-through transaction (DESIGN invariant 1): one per MAIL, bound at its first
 * authorized RCPT to the one next-hop session that accepted our MAIL. Every RCPT and the final
 * DATA reply are the next hop's own; the relay answers only for what it decides itself
 * (authorization, routing, an unreachable or lost hop). It holds no custody: a 250 reaches the
 * client only after the next hop's 250, on the session that carries the whole transaction.
 */
import type { Readable } from 'node:stream';
import type { ClientIdentity, RelayPolicy } from '../inbound/relay-authorization.js';
import { acceptRecipient } from '../inbound/relay-authorization.js';
import type { HopDeadlines } from '../outbound/deadlines.js';
import { HopLostError } from '../outbound/hop-connection.js';
import type { PolicySource } from '../outbound/hop-policy.js';
import type { IdleHolders } from '../outbound/hop-slots.js';
import type { OpenedHop } from '../outbound/open-hop.js';
import type { NextHop, NextHopResult } from '../routing/next-hop.js';
import { replies } from '../smtp/replies.js';
import { replyText, type Reply } from '../smtp/reply.js';
import { mailCommand, needsSmtpUtf8, wirePath, type MailArgs } from './envelope.js';
import {
  HopSessionCache,
  type HopSession,
  type OpenHop,
  type ReleaseHop,
  type StillFits,
} from './hop-session.js';
import { contentCheck, type ContentLimits } from './content-check.js';
import { receivedHeader } from './received.js';
import type {
  InboundFacts,
  TransactionOutcome,
  TransactionRecord,
  TransactionSink,
} from './record.js';

export interface RelayDeps {
  readonly hostname: string;
  readonly policy: RelayPolicy;
  readonly resolveNextHop: (domain: string) => Promise<NextHopResult>;
  readonly openHop: OpenHop;
  /** Where a next-hop session goes when this client is done with it; else it is QUIT. */
  readonly releaseHop?: ReleaseHop;
  /** Re-judges the client's own next-hop session against today's policy before each reuse. */
  readonly stillFits?: StillFits;
  /** The per-next-hop connection cap: it may reclaim this client's session between transactions. */
  readonly idleHolders?: IdleHolders;
  readonly deadlines: HopDeadlines;
  readonly maxMessageSize: number;
  readonly maxRecipients: number;
  readonly content: ContentLimits;
  /** Whether this client's bare CR, LF or NUL is refused (else normalised by the data stream). */
  readonly rejectsBareLineEndings: (clientAddress: string) => boolean;
  readonly sink: TransactionSink;
  readonly now?: () => Date;
}

/** Recipients kept in one transaction's log record; the rest are only counted. */
const RECORDED_RECIPIENTS = 100;

interface Transaction {
  readonly record: TransactionRecord;
  readonly mailArgs: MailArgs;
  /** The next-hop session that accepted our MAIL: the only one this transaction may use. */
  hop?: HopSession;
  /** RCPT commands seen, accepted or not: bounded so refused recipients cannot grow forever. */
  attempts: number;
  /** Recipients the hop accepted: once any exist, losing the hop dooms the transaction. */
  accepted: number;
  doomed: boolean;
  needUtf8: boolean;
}

type Decision = { readonly reply: Reply; readonly source: 'relay' | 'next_hop' };
const relay = (reply: Reply): Decision => ({ reply, source: 'relay' });

/** No session: unreachable (4.4.1), or reachable but short of the TLS policy. */
function refusal(refusedBy: PolicySource | undefined, definite: boolean): Reply {
  if (refusedBy === undefined) return replies.nextHopUnavailable;
  // RFC 8689 §5: REQUIRETLS not honoured is permanent; a TLS policy unmet may heal (RFC 8461 §5).
  return refusedBy === 'requiretls' && definite
    ? replies.requireTlsUnsupported
    : replies.tlsPolicyUnmet;
}

export class RelaySession {
  readonly #hops: HopSessionCache;
  #tx: Transaction | undefined;
  #count = 0;
  /** A DATA transfer in flight: the session's end waits for it, the hop may still answer. */
  #transfer: Promise<unknown> | undefined;
  /** After AUTH passthrough, every recipient goes to the hop that authenticated the client. */
  #pinned: NextHop | undefined;

  constructor(private readonly deps: RelayDeps) {
    this.#hops = new HopSessionCache(
      deps.openHop,
      deps.deadlines,
      deps.releaseHop,
      deps.stillFits,
      deps.idleHolders,
    );
  }

  /** AUTH passthrough succeeded on `opened`: this client's mail goes there and nowhere else. */
  adopt(nextHop: NextHop, opened: OpenedHop): void {
    this.#pinned = nextHop;
    this.#hops.adopt(nextHop, opened);
  }

  /**
   * RSET, EHLO or HELO (RFC 5321 §4.1.1.5, §4.1.4): the client's open transaction ends; its next-hop
   * session is idle again (RSET is sent there before the next MAIL), so a client waiting at the
   * connection cap may reclaim it.
   */
  reset(): void {
    this.#finishOpen('abandoned');
    if (!this.#transfer) this.#hops.transactionEnded();
  }

  /** MAIL: accepted locally (nothing is known about the next hop yet); it goes out at first RCPT. */
  mail(from: string, args: MailArgs, inbound: InboundFacts): void {
    this.#finishOpen('abandoned');
    this.#hops.transactionEnded();
    this.#count += 1;
    this.#tx = {
      record: {
        id: `${inbound.sessionId}.${this.#count}`,
        startedAt: Date.now(),
        mailFrom: from,
        inbound,
        recipients: [],
        recipientCount: 0,
      },
      mailArgs: args,
      attempts: 0,
      accepted: 0,
      doomed: false,
      needUtf8: false,
    };
  }

  /** RCPT: authorize, route, make sure the hop has our MAIL, forward, and mirror its reply. */
  async rcpt(to: string, client: ClientIdentity): Promise<Reply> {
    const tx = this.#tx;
    if (!tx) return replies.internalError;
    tx.attempts += 1;
    const decided = await this.#decideRcpt(tx, to, client);
    const code = decided.reply.code;
    tx.record.recipientCount += 1;
    if (tx.record.recipients.length < RECORDED_RECIPIENTS) {
      tx.record.recipients.push({
        address: to,
        reply: replyText(decided.reply),
        source: decided.source,
      });
    }
    this.deps.sink.recipient(
      code < 300 ? 'accepted' : code < 500 ? 'deferred' : 'rejected',
      decided.source,
    );
    if (code < 300) tx.accepted += 1;
    return decided.reply;
  }

  async #decideRcpt(tx: Transaction, to: string, client: ClientIdentity): Promise<Decision> {
    // RFC 5321 §4.5.3.1.10: 452 for too many; refused attempts count too, bounding the record.
    if (tx.accepted >= this.deps.maxRecipients || tx.attempts > 2 * this.deps.maxRecipients) {
      return relay(replies.tooManyRecipients);
    }
    const verdict = acceptRecipient(this.deps.policy, client, to);
    if (!verdict.ok) return relay(verdict.reply);
    if (tx.doomed) return relay(replies.nextHopLost);
    const route = this.#pinned
      ? ({ ok: true, nextHop: this.#pinned } as const)
      : await this.deps.resolveNextHop(verdict.domain);
    if (!route.ok) return relay(route.reply);
    const nextHop = route.nextHop;
    if (tx.hop && tx.hop.nextHop.key !== nextHop.key) return relay(replies.otherNextHop);
    const path = wirePath(to);
    if (path === undefined) return relay(replies.badAddress);
    if (tx.hop && !tx.hop.connection.usable) {
      // The session holding our MAIL is gone (closed while idle, or out of step).
      if (this.#hopGone(tx)) return relay(replies.nextHopLost);
    }

    const requireTls = tx.mailArgs !== false && tx.mailArgs?.REQUIRETLS === true;
    let hop = tx.hop;
    if (!hop) {
      const acquired = await this.#hops.acquire(nextHop, tx.record, { requireTls });
      if (!acquired.ok) {
        // RFC 3463 X.4.5: mail system congestion, the next hop is at its connection cap.
        if (acquired.congested) return relay(replies.nextHopCongested);
        return relay(refusal(acquired.refusedBy, acquired.definite === true));
      }
      hop = acquired.session;
    }
    try {
      const rcptUtf8 = needsSmtpUtf8(to);
      if (rcptUtf8 && !hop.connection.extensions.has('SMTPUTF8'))
        return relay(replies.utf8NotSupported);
      const rcptLine = `RCPT TO:${path}`;
      if (!tx.hop) {
        const decided = await this.#openHopTransaction(tx, hop, rcptUtf8, rcptLine);
        if (decided) return decided;
      }
      // RFC 5321 §3.3: RCPT forwarded as is, one at a time; the reply is the hop's own.
      const reply = await hop.connection.command(rcptLine, this.deps.deadlines.commandMs);
      this.#hops.afterReply(hop, reply);
      return { reply, source: 'next_hop' };
    } catch (err) {
      return relay(this.#hopLost(tx, hop, err));
    }
  }

  /**
   * Sends MAIL for this transaction on the hop, with the first RCPT in the same write when the
   * hop offers PIPELINING (RFC 2920 §3.1: one round trip instead of two). Returns the decision
   * for this RCPT when it is already made (MAIL refused, or the pipelined RCPT answered);
   * undefined when the RCPT is still to be sent.
   */
  async #openHopTransaction(
    tx: Transaction,
    hop: HopSession,
    rcptUtf8: boolean,
    rcptLine: string,
  ): Promise<Decision | undefined> {
    const mail = mailCommand(
      tx.record.mailFrom,
      tx.mailArgs,
      hop.connection.extensions,
      tx.needUtf8 || rcptUtf8,
    );
    if (!mail.ok) return relay(mail.reply);
    await this.#hops.ensureClean(hop);
    const ms = this.deps.deadlines.commandMs;
    const pipelined = hop.connection.extensions.has('PIPELINING')
      ? await hop.connection.pipeline(mail.line, rcptLine, ms)
      : undefined;
    const reply = pipelined ? pipelined[0] : await hop.connection.command(mail.line, ms);
    this.#hops.afterReply(hop, reply);
    // The hop refused our sender: the client hears it as this recipient's reply (the pipelined
    // RCPT's own reply, a 503 for want of a sender, is not the client's business; an RSET goes
    // before the next MAIL all the same, in case the hop saw it otherwise).
    if (reply.code >= 300) {
      if (pipelined) hop.dirty = true;
      return { reply, source: 'next_hop' };
    }
    hop.dirty = true;
    tx.hop = hop;
    tx.needUtf8 ||= rcptUtf8;
    if (!pipelined) return undefined;
    const rcpt = pipelined[1];
    if (rcpt instanceof Error) throw rcpt;
    this.#hops.afterReply(hop, rcpt);
    return { reply: rcpt, source: 'next_hop' };
  }

  /** The transaction lost its hop session. True when recipients were accepted there: doomed. */
  #hopGone(tx: Transaction): boolean {
    if (tx.hop) this.#hops.discard(tx.hop);
    delete tx.hop;
    if (tx.accepted > 0) tx.doomed = true;
    return tx.doomed;
  }

  #hopLost(tx: Transaction, hop: HopSession, err: unknown): Reply {
    if (!(err instanceof HopLostError)) throw err;
    this.#hops.discard(hop);
    this.#hopGone(tx);
    return err.reason === 'garbled' ? replies.nextHopGarbled : replies.nextHopLost;
  }

  /**
   * DATA: the body streams to the hop behind our Received header and the hop's final reply is the
   * client's. Called after smtp-server sent 354, so every outcome is reported after the body.
   */
  data(stream: Readable, inbound: InboundFacts): Promise<Reply> {
    const tx = this.#tx;
    this.#tx = undefined;
    const transfer = this.#transferData(tx, stream, inbound);
    this.#transfer = transfer;
    void transfer.finally(() => {
      if (this.#transfer === transfer) this.#transfer = undefined;
      this.#hops.transactionEnded();
    });
    return transfer;
  }

  async #transferData(
    tx: Transaction | undefined,
    stream: Readable,
    inbound: InboundFacts,
  ): Promise<Reply> {
    const hop = tx?.hop?.connection.usable ? tx.hop : undefined;
    if (!tx || !hop || tx.doomed || tx.accepted === 0) {
      stream.resume();
      if (tx) this.#finish(tx, 'deferred', replies.nextHopLost);
      return replies.nextHopLost;
    }
    const header = receivedHeader({
      helo: inbound.helo,
      clientAddress: inbound.clientAddress,
      clientHostname: inbound.clientHostname,
      hostname: this.deps.hostname,
      ehlo: inbound.ehlo,
      authenticated: inbound.user !== undefined,
      tls: inbound.tls.level === 'none' ? undefined : inbound.tls,
      id: tx.record.id,
      date: (this.deps.now ?? (() => new Date()))(),
    });
    try {
      const limits = {
        maxBytes: this.deps.maxMessageSize,
        inspect: contentCheck(
          this.deps.content,
          this.deps.rejectsBareLineEndings(inbound.clientAddress),
          hop.connection.extensions.has('8BITMIME'),
        ),
      };
      const outcome = await hop.connection.data(stream, header, limits, {
        initiation: this.deps.deadlines.dataInitiationMs,
        final: this.deps.deadlines.finalReplyMs,
      });
      tx.record.size = outcome.bytes;
      switch (outcome.kind) {
        case 'client-aborted':
          this.#hops.discard(hop);
          this.#finish(tx, 'aborted');
          return replies.nextHopLost;
        case 'too-big':
          this.#hops.discard(hop);
          this.#finish(tx, 'rejected', replies.messageTooBig);
          return replies.messageTooBig;
        case 'bad-content':
          this.#hops.discard(hop);
          this.#finish(tx, 'rejected', outcome.reply);
          return outcome.reply;
        case 'refused':
          // The hop refused DATA itself: its transaction is still open (dirty) until RSET.
          this.#hops.afterReply(hop, outcome.reply);
          this.#finish(tx, outcome.reply.code < 500 ? 'deferred' : 'rejected', outcome.reply);
          return outcome.reply;
        case 'replied': {
          const r = outcome.reply;
          if (r.code >= 400) {
            // A refusal may have come before the hop read our dot (an early 552 while it still
            // reads, RFC 5321 §4.2.5 notwithstanding): its reply to the dot would then answer our
            // next command. Such a session is never used again.
            this.#hops.discard(hop);
          } else {
            this.#hops.afterReply(hop, r);
            hop.dirty = false;
          }
          this.#finish(tx, r.code < 300 ? 'delivered' : r.code < 500 ? 'deferred' : 'rejected', r);
          return r;
        }
      }
    } catch (err) {
      const reply = this.#hopLost(tx, hop, err);
      this.#finish(tx, 'deferred', reply);
      return reply;
    }
  }

  /**
   * The inbound session ended: log what was open and say goodbye to the hop. A DATA transfer
   * still waiting for the hop's final reply (the client left right after its dot) completes
   * and is recorded first.
   */
  close(): void {
    this.#finishOpen('abandoned');
    const transfer = this.#transfer;
    if (transfer) void transfer.finally(() => this.#hops.closeAll());
    else this.#hops.closeAll();
  }

  #finishOpen(outcome: TransactionOutcome): void {
    const tx = this.#tx;
    this.#tx = undefined;
    if (tx) this.#finish(tx, outcome);
  }

  #finish(tx: Transaction, outcome: TransactionOutcome, final?: Reply): void {
    if (outcome === 'abandoned' && tx.record.recipientCount === 0) return;
    tx.record.outcome = outcome;
    if (final) {
      tx.record.final = replyText(final);
    }
    this.deps.sink.finished(tx.record, Date.now() - tx.record.startedAt);
  }
}
