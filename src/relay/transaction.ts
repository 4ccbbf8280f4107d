/**
 * @module The pass-through transaction (DESIGN invariant 1): one per MAIL, bound to one next hop at
 * its first authorized RCPT. Every RCPT and the final DATA reply are the next hop's own; the
 * relay answers only for what it decides itself (authorization, routing, an unreachable hop).
 * It holds no custody: a 250 reaches the client only after the next hop's 250.
 */
import type { Readable } from 'node:stream';
import type { ClientIdentity, RelayPolicy } from '../inbound/relay-authorization.js';
import { acceptRecipient } from '../inbound/relay-authorization.js';
import type { HopDeadlines } from '../outbound/deadlines.js';
import { HopLostError } from '../outbound/hop-connection.js';
import type { OpenResult } from '../outbound/open-hop.js';
import type { NextHop, NextHopResult } from '../routing/next-hop.js';
import { replies } from '../smtp/replies.js';
import { isPositive, replyText, type Reply } from '../smtp/reply.js';
import { mailCommand, needsSmtpUtf8, wirePath, type MailArgs } from './envelope.js';
import { HopSessionCache, type HopSession } from './hop-session.js';
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
  readonly openHop: (nextHop: NextHop) => Promise<OpenResult>;
  readonly deadlines: HopDeadlines;
  readonly maxMessageSize: number;
  readonly maxRecipients: number;
  readonly sink: TransactionSink;
  readonly now?: () => Date;
}

interface Transaction {
  readonly record: TransactionRecord;
  readonly mailArgs: MailArgs;
  nextHopKey?: string;
  /** The hop accepted our MAIL for this transaction. */
  hopMailAccepted: boolean;
  /** Recipients the hop accepted: once any exist, losing the hop dooms the transaction. */
  accepted: number;
  doomed: boolean;
  needUtf8: boolean;
}

export class RelaySession {
  readonly #hops: HopSessionCache;
  #tx: Transaction | undefined;
  #count = 0;

  constructor(private readonly deps: RelayDeps) {
    this.#hops = new HopSessionCache(deps.openHop, deps.deadlines);
  }

  /** MAIL: accepted locally (nothing is known about the next hop yet); it goes out at first RCPT. */
  mail(from: string, args: MailArgs, inbound: InboundFacts): void {
    this.#finish('abandoned');
    this.#count += 1;
    this.#tx = {
      record: {
        id: `${inbound.sessionId}.${this.#count}`,
        startedAt: Date.now(),
        mailFrom: from,
        inbound,
        recipients: [],
      },
      mailArgs: args,
      hopMailAccepted: false,
      accepted: 0,
      doomed: false,
      needUtf8: false,
    };
  }

  /** RCPT: authorize, route, make sure the hop has our MAIL, forward, and mirror its reply. */
  async rcpt(to: string, accepted: number, client: ClientIdentity): Promise<Reply> {
    const tx = this.#tx;
    if (!tx) return replies.internalError;
    const decided = await this.#decideRcpt(tx, to, accepted, client);
    const code = decided.reply.code;
    tx.record.recipients.push({
      address: to,
      reply: replyText(decided.reply),
      code,
      source: decided.source,
    });
    this.deps.sink.recipient(
      code < 300 ? 'accepted' : code < 500 ? 'deferred' : 'rejected',
      decided.source,
    );
    if (code < 300) tx.accepted += 1;
    return decided.reply;
  }

  async #decideRcpt(
    tx: Transaction,
    to: string,
    accepted: number,
    client: ClientIdentity,
  ): Promise<{ reply: Reply; source: 'relay' | 'next_hop' }> {
    const relay = (reply: Reply) => ({ reply, source: 'relay' as const });
    if (accepted >= this.deps.maxRecipients) return relay(replies.tooManyRecipients);
    const verdict = acceptRecipient(this.deps.policy, client, to);
    if (!verdict.ok) return relay(verdict.reply);
    if (tx.doomed) return relay(replies.nextHopLost);
    const route = await this.deps.resolveNextHop(verdict.domain);
    if (!route.ok) return relay(route.reply);
    const nextHop = route.nextHop;
    if (tx.nextHopKey !== undefined && tx.nextHopKey !== nextHop.key)
      return relay(replies.otherNextHop);
    const path = wirePath(to);
    if (path === undefined) return relay(replies.badAddress);

    const hop = await this.#hops.acquire(nextHop, tx.record);
    if (!hop) return relay(replies.nextHopUnavailable);
    try {
      const rcptUtf8 = needsSmtpUtf8(to);
      if (rcptUtf8 && !hop.connection.extensions.has('SMTPUTF8'))
        return relay(replies.utf8NotSupported);
      if (!tx.hopMailAccepted) {
        const mailReply = await this.#openHopTransaction(tx, hop, rcptUtf8);
        if (mailReply) return mailReply;
      }
      // RFC 5321 §3.3: RCPT forwarded as is, one at a time; the reply is the hop's own.
      const reply = await hop.connection.command(`RCPT TO:${path}`, this.deps.deadlines.commandMs);
      this.#hops.afterReply(hop, reply);
      return { reply, source: 'next_hop' };
    } catch (err) {
      return relay(this.#hopLost(tx, hop, err));
    }
  }

  /** Sends MAIL for this transaction on the hop; returns a reply only when RCPT must end there. */
  async #openHopTransaction(
    tx: Transaction,
    hop: HopSession,
    rcptUtf8: boolean,
  ): Promise<{ reply: Reply; source: 'relay' | 'next_hop' } | undefined> {
    const mail = mailCommand(
      tx.record.mailFrom,
      tx.mailArgs,
      hop.connection.extensions,
      tx.needUtf8 || rcptUtf8,
    );
    if (!mail.ok) return { reply: mail.reply, source: 'relay' };
    await this.#hops.ensureClean(hop);
    const reply = await hop.connection.command(mail.line, this.deps.deadlines.commandMs);
    this.#hops.afterReply(hop, reply);
    if (!isPositive(reply)) {
      // The hop refused our sender: the client hears it as this recipient's reply.
      return { reply, source: 'next_hop' };
    }
    hop.dirty = true;
    tx.hopMailAccepted = true;
    tx.needUtf8 ||= rcptUtf8;
    tx.nextHopKey = hop.nextHop.key;
    return undefined;
  }

  #hopLost(tx: Transaction, hop: HopSession, err: unknown): Reply {
    if (!(err instanceof HopLostError)) throw err;
    this.#hops.discard(hop);
    if (tx.accepted > 0) tx.doomed = true;
    else {
      tx.hopMailAccepted = false;
      delete tx.nextHopKey;
    }
    return err.reason === 'garbled' ? replies.nextHopGarbled : replies.nextHopLost;
  }

  /**
   * DATA: the body streams to the hop behind our Received header and the hop's final reply is the
   * client's. Called after smtp-server sent 354, so every outcome is reported after the body.
   */
  async data(stream: Readable, inbound: InboundFacts): Promise<Reply> {
    const tx = this.#tx;
    const hop = tx?.nextHopKey !== undefined ? this.#hops.current(tx.nextHopKey) : undefined;
    if (!tx || !hop || tx.doomed || tx.accepted === 0) {
      stream.resume();
      if (tx) this.#finish('deferred', replies.nextHopLost);
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
    let bytes = 0;
    const count = (chunk: Buffer): void => {
      bytes += chunk.length;
    };
    stream.on('data', count);
    try {
      const outcome = await hop.connection.data(stream, header, this.deps.maxMessageSize, {
        initiation: this.deps.deadlines.dataInitiationMs,
        final: this.deps.deadlines.finalReplyMs,
      });
      tx.record.size = bytes;
      switch (outcome.kind) {
        case 'client-aborted':
          this.#hops.discard(hop);
          this.#finish('aborted');
          return replies.nextHopLost;
        case 'too-big':
          this.#hops.discard(hop);
          this.#finish('rejected', replies.messageTooBig);
          return replies.messageTooBig;
        case 'replied': {
          this.#hops.afterReply(hop, outcome.reply);
          hop.dirty = false;
          const r = outcome.reply;
          this.#finish(r.code < 300 ? 'delivered' : r.code < 500 ? 'deferred' : 'rejected', r);
          return r;
        }
      }
    } catch (err) {
      tx.record.size = bytes;
      const reply = this.#hopLost(tx, hop, err);
      this.#finish('deferred', reply);
      return reply;
    } finally {
      stream.removeListener('data', count);
    }
  }

  /** The inbound session ended: log what was open and say goodbye to the hop. */
  close(): void {
    this.#finish('abandoned');
    this.#hops.closeAll();
  }

  #finish(outcome: TransactionOutcome, final?: Reply): void {
    const tx = this.#tx;
    if (!tx) return;
    this.#tx = undefined;
    if (outcome === 'abandoned' && tx.record.recipients.length === 0) return;
    tx.record.outcome = outcome;
    if (final) {
      tx.record.final = replyText(final);
      tx.record.finalCode = final.code;
    }
    this.deps.sink.finished(tx.record, Date.now() - tx.record.startedAt);
  }
}
