// Next-hop crashes (socket destroyed) and 421s at each phase, swept over many seeded transactions: exact replies per transaction, clean ones relayed between them, zero 250-without-next-hop-250.
import t from 'tap';
import {
  ACCEPTED,
  AT_RCPT,
  BEFORE_RCPT,
  destroy,
  GO_AHEAD,
  HOP_421,
  IN_DATA,
  say421,
  sweep,
  TRANSACTIONS,
  type FaultCase,
} from '../support/fault-sweep.js';

const CASES: readonly FaultCase[] = [
  {
    name: 'crash at greeting',
    phase: 'greeting',
    action: destroy,
    replies: BEFORE_RCPT,
    session: 'open',
    atHop: 'nothing',
  },
  {
    name: 'crash at EHLO',
    phase: 'ehlo',
    action: destroy,
    replies: BEFORE_RCPT,
    session: 'open',
    atHop: 'nothing',
  },
  {
    name: 'crash at MAIL',
    phase: 'mail',
    action: destroy,
    replies: AT_RCPT,
    session: 'open',
    atHop: 'nothing',
  },
  {
    name: 'crash at RCPT',
    phase: 'rcpt',
    action: destroy,
    replies: AT_RCPT,
    session: 'open',
    atHop: 'nothing',
  },
  {
    name: 'crash at DATA',
    phase: 'data',
    action: destroy,
    replies: IN_DATA,
    session: 'open',
    atHop: 'nothing',
  },
  {
    name: 'crash mid-DATA',
    phase: 'body',
    action: destroy,
    replies: IN_DATA,
    session: 'open',
    atHop: 'incomplete',
    large: true,
  },
  {
    name: 'crash before the final reply',
    phase: 'dot',
    action: destroy,
    replies: IN_DATA,
    session: 'open',
    atHop: 'complete',
  },
  {
    name: '421 at greeting',
    phase: 'greeting',
    action: say421,
    replies: BEFORE_RCPT,
    session: 'open',
    atHop: 'nothing',
  },
  {
    name: '421 at EHLO',
    phase: 'ehlo',
    action: say421,
    replies: BEFORE_RCPT,
    session: 'open',
    atHop: 'nothing',
  },
  // RFC 5321 §3.8: the hop's 421 is mirrored and, being a 421, ends the client's session too.
  {
    name: '421 at MAIL',
    phase: 'mail',
    action: say421,
    replies: [ACCEPTED, HOP_421],
    session: 'closed',
    atHop: 'nothing',
  },
  {
    name: '421 at RCPT',
    phase: 'rcpt',
    action: say421,
    replies: [ACCEPTED, HOP_421],
    session: 'closed',
    atHop: 'nothing',
  },
  {
    name: '421 at DATA',
    phase: 'data',
    action: say421,
    replies: [ACCEPTED, ACCEPTED, GO_AHEAD, HOP_421],
    session: 'closed',
    atHop: 'nothing',
  },
  {
    name: '421 at the final reply',
    phase: 'dot',
    action: say421,
    replies: [ACCEPTED, ACCEPTED, GO_AHEAD, HOP_421],
    session: 'closed',
    atHop: 'complete',
  },
];

for (const [i, fault] of CASES.entries()) {
  const seed = 7000 + i;
  void t.test(`next hop: ${fault.name}, ${TRANSACTIONS} transactions, seed ${seed}`, (t) =>
    sweep(t, fault, seed),
  );
}
