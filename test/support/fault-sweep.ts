/**
 * @module The next-hop fault sweep: one relay, one scripted hop, many seeded transactions of
 * which some meet the fault; each faulty one gets its exact replies, clean ones between them are
 * relayed, and no client ever holds a 250 the hop did not write.
 */
import type { Test } from 'tap';
import type { HopDeadlines } from '../../src/outbound/deadlines.js';
import { startFaultHop, type HopAction, type HopPhase } from './fault-hop.js';
import {
  checkLedger,
  ClientLedger,
  faultClient,
  faultMessage,
  sendMessage,
} from './fault-ledger.js';
import { prng } from './fuzz-prng.js';
import { startTestRelay } from './relay.js';

export const TRANSACTIONS = 12;
export const ACCEPTED = '250 Accepted';
export const GO_AHEAD = '354 End data with <CR><LF>.<CR><LF>';
export const UNAVAILABLE = '451 4.4.1 Next hop unavailable, try again later';
export const LOST = '451 4.4.2 Connection to the next hop lost, try again later';
export const HOP_421 = '421 4.3.2 hop going down';
const QUEUED = /^250 2\.0\.0 Ok: queued as H\d+$/;

/** Deadlines short enough that a stall costs under a second, long enough for a busy CI. */
export const SHORT: HopDeadlines = {
  connectMs: 2000,
  setupMs: 500,
  commandMs: 500,
  dataInitiationMs: 500,
  finalReplyMs: 500,
};

export interface FaultCase {
  readonly name: string;
  readonly phase: HopPhase;
  readonly action: HopAction;
  /** The client's replies to MAIL, RCPT, (RSET | DATA, end of data). */
  readonly replies: readonly string[];
  /** The session survives (NOOP answered) or the relay closed it after mirroring a 421. */
  readonly session: 'open' | 'closed';
  /** What the hop saw of the message: no DATA, a body without its dot, or a complete one. */
  readonly atHop: 'nothing' | 'incomplete' | 'complete';
  /** Bigger messages so that a mid-body fault really lands mid-body. */
  readonly large?: boolean;
}

export const BEFORE_RCPT = [ACCEPTED, UNAVAILABLE, '250 Flushed'];
export const AT_RCPT = [ACCEPTED, LOST, '250 Flushed'];
export const IN_DATA = [ACCEPTED, ACCEPTED, GO_AHEAD, LOST];
export const destroy: HopAction = { kind: 'destroy' };
export const stall: HopAction = { kind: 'stall' };
export const say421: HopAction = { kind: 'reply-close', text: HOP_421 };

/** A relay with SHORT deadlines routed to a hop that applies `action` at `phase` while `faulty()`. */
export async function faultyPair(
  t: Test,
  phase: HopPhase,
  action: HopAction,
  faulty: () => boolean,
): Promise<{ hop: Awaited<ReturnType<typeof startFaultHop>>; port: number }> {
  const hop = await startFaultHop((p) => (faulty() && p === phase ? action : undefined));
  t.teardown(() => hop.close());
  const relay = await startTestRelay(
    {
      routes: [{ domains: ['dest.test'], nextHop: `127.0.0.1:${hop.port}` }],
      // Every transaction's client session opens its own next-hop session, so each one meets
      // the fault at its phase (the connection cache has its own fault tests).
      outbound: { connectionCache: { enabled: false } },
    },
    { deadlines: SHORT },
  );
  t.teardown(() => relay.close());
  return { hop, port: relay.port };
}

/** Runs `fault` over TRANSACTIONS seeded transactions (at least one faulty, one clean). */
export async function sweep(t: Test, fault: FaultCase, seed: number): Promise<void> {
  const rng = prng(seed);
  let faulty = false;
  const { hop, port } = await faultyPair(t, fault.phase, fault.action, () => faulty);
  const ledger = new ClientLedger();
  const plan = Array.from(
    { length: TRANSACTIONS },
    (_, i) => i === 0 || (i !== 1 && rng.chance(0.5)),
  );
  // One client session for as long as the relay keeps it open, as an MTA's would be.
  let c = await faultClient(t, port);
  for (const [i, isFaulty] of plan.entries()) {
    faulty = isFaulty;
    const id = `${fault.phase}-${i}-${seed}@client.test`;
    const size = fault.large && isFaulty ? rng.int(200_000, 400_000) : rng.int(200, 20_000);
    // A next-hop session lives as long as its client session: a fault at the hop's greeting or
    // EHLO needs a new one.
    if (c.closed || (i > 0 && (fault.phase === 'greeting' || fault.phase === 'ehlo'))) {
      c.close();
      c = await faultClient(t, port);
    }
    const view = await sendMessage(c, ledger, id, faultMessage(id, size, rng));
    const atHop = hop.messages.filter((m) => m.id === id);
    if (!isFaulty) {
      t.match(view.replies, [ACCEPTED, ACCEPTED, GO_AHEAD, QUEUED], `${id}: clean, relayed`);
      t.equal(atHop[0]?.reply, view.final, `${id}: the hop's own 250`);
    } else {
      t.same(view.replies, fault.replies, `${id}: ${fault.name}`);
      const seen = atHop.length === 0 ? 'nothing' : atHop[0]?.complete ? 'complete' : 'incomplete';
      t.equal(seen, fault.atHop, `${id}: the hop saw ${fault.atHop}`);
      t.notOk(
        atHop.some((m) => m.reply?.startsWith('250')),
        `${id}: the hop accepted nothing`,
      );
    }
    let noop: string | null;
    try {
      noop = await c.send('NOOP');
    } catch {
      noop = null;
    }
    const open = !isFaulty || fault.session === 'open';
    t.equal(noop, open ? '250 OK' : null, `${id}: session ${open ? 'open' : 'closed'}`);
  }
  checkLedger(t, ledger, hop);
}
