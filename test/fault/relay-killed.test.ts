// kill -9 of the relay process at each phase (greeting, after RCPT, mid-DATA, after the next hop's 250 but before the client heard it), with many clients at once: no client ever holds a 250 the next hop did not write, nothing aborted is completed at the hop, and every message is delivered once the clients retry on a restarted relay.
import t from 'tap';
import { startFaultHop, type HopMessage } from '../support/fault-hop.js';
import {
  checkLedger,
  ClientLedger,
  faultClient,
  faultMessage,
  sendMessage,
  step,
} from '../support/fault-ledger.js';
import { relayStateDir, spawnRelay } from '../support/fault-relay-process.js';
import { prng } from '../support/fuzz-prng.js';
import { SmtpDialogue } from '../support/smtp-client.js';

const CLIENTS = 20;
const QUEUED = /^250 2\.0\.0 Ok: queued as H\d+$/;

const EVENTS = ['body', 'dot', 'reply'] as const;

type Phase = 'greeting' | 'after-rcpt' | 'mid-data' | 'after-hop-250';

/** Resolves once `predicate` holds for the hop's messages, checked on every body/dot event. */
function hopReaches(
  hop: Awaited<ReturnType<typeof startFaultHop>>,
  predicate: (messages: HopMessage[]) => boolean,
): Promise<void> {
  return new Promise((resolve, reject) => {
    // A deadline as a failure condition, so a broken case fails instead of hanging the suite.
    const timer = setTimeout(() => {
      for (const e of EVENTS) hop.events.off(e, check);
      reject(new Error(`the hop did not reach the expected state within 20 s`));
    }, 20_000);
    const check = (): void => {
      if (!predicate(hop.messages)) return;
      clearTimeout(timer);
      for (const e of EVENTS) hop.events.off(e, check);
      resolve();
    };
    for (const e of EVENTS) hop.events.on(e, check);
    check();
  });
}

const SEEDS: Record<Phase, number> = {
  greeting: 101,
  'after-rcpt': 202,
  'mid-data': 303,
  'after-hop-250': 404,
};

for (const phase of Object.keys(SEEDS) as Phase[]) {
  const seed = SEEDS[phase];
  void t.test(`kill -9 ${phase}: ${CLIENTS} clients, seed ${seed}`, async (t) => {
    const rng = prng(seed);
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    // The hop holds its replies to the fault messages' final dots until the relay is frozen.
    let queued = 0;
    const hop = await startFaultHop((p, { message }) => {
      if (p !== 'dot' || phase !== 'after-hop-250' || !message?.id?.startsWith('fault-'))
        return undefined;
      queued += 1;
      const n = 1000 + queued;
      return { kind: 'later', text: released.then(() => `250 2.0.0 Ok: queued as H${n}`) };
    });
    t.teardown(() => hop.close());
    const stateDir = await relayStateDir(t);
    const relay = await spawnRelay(t, stateDir, hop.port);
    const ledger = new ClientLedger();
    const bodies = new Map<string, string>();
    const message = (id: string): string => {
      const body = faultMessage(id, rng.int(200, 60_000), rng);
      bodies.set(id, body);
      return body;
    };

    // Before the fault: each client sends 0–2 whole messages, then walks to the phase.
    const clients: Array<{ c: SmtpDialogue; pending: string | null }> = [];
    const warmIds: string[][] = Array.from({ length: CLIENTS }, (_, i) =>
      Array.from({ length: rng.int(0, 2) }, (_, k) => `warm-${seed}-${i}-${k}@client.test`),
    );
    await Promise.all(
      warmIds.map(async (ids, i) => {
        if (phase === 'greeting') {
          const warm = await faultClient(t, relay.port);
          for (const id of ids) {
            const view = await sendMessage(warm, ledger, id, message(id));
            t.match(view.final ?? '', QUEUED, `${id} delivered before the fault`);
          }
          t.equal(await warm.send('QUIT'), '221 Bye');
          const c = await SmtpDialogue.connect(relay.port);
          t.teardown(() => c.close());
          t.equal(await c.line(), '220 relay.test ESMTP starttls-relay', `client ${i} greeted`);
          clients[i] = { c, pending: null };
          return;
        }
        const c = await faultClient(t, relay.port);
        for (const id of ids) {
          const view = await sendMessage(c, ledger, id, message(id));
          t.match(view.final ?? '', QUEUED, `${id} delivered before the fault`);
        }
        const id = `fault-${seed}-${i}@client.test`;
        const view = ledger.attempt(id);
        const body = message(id);
        clients[i] = { c, pending: id };
        t.equal(await step(c, view, 'MAIL FROM:<a@origin.test>'), '250 Accepted');
        t.equal(await step(c, view, 'RCPT TO:<b@dest.test>'), '250 Accepted');
        if (phase === 'after-rcpt') return;
        t.equal(await step(c, view, 'DATA'), '354 End data with <CR><LF>.<CR><LF>');
        if (phase === 'mid-data') {
          c.write(body.slice(0, Math.floor(body.length / 2)));
          return;
        }
        c.write(`${body}.\r\n`);
      }),
    );
    const faultIds = clients.flatMap((x) => (x.pending ? [x.pending] : []));

    if (phase === 'mid-data') {
      await hopReaches(hop, (ms) =>
        faultIds.every((id) => ms.some((m) => m.id === id && m.body.length > 0)),
      );
    }
    if (phase === 'after-hop-250') {
      // Every dot reached the hop; freeze the relay, let the hop write its 250s, then kill -9:
      // the relay never runs between reading those 250s and dying.
      await hopReaches(hop, (ms) =>
        faultIds.every((id) => ms.some((m) => m.id === id && m.complete)),
      );
      relay.kill('SIGSTOP');
      release();
      await hopReaches(hop, (ms) =>
        faultIds.every((id) => ms.some((m) => m.id === id && m.reply !== null)),
      );
    }
    relay.kill('SIGKILL');
    t.equal(await relay.exited, 'SIGKILL');

    // Each client sees its connection end without a reply to what was in flight.
    await Promise.all(
      clients.map(async ({ c, pending }) => {
        const extra = await c.line().catch(() => null);
        t.equal(extra, null, `no reply after the kill (${pending ?? 'greeting'})`);
        t.ok(c.closed, 'the connection is closed');
        if (pending !== null) {
          const views = ledger.views.get(pending) ?? [];
          const last = views[views.length - 1];
          if (last) last.final = null;
        }
      }),
    );

    const atHop = (id: string): HopMessage[] => hop.messages.filter((m) => m.id === id);
    for (const id of faultIds) {
      if (phase === 'after-rcpt') t.same(atHop(id), [], `${id}: the hop never saw DATA`);
      if (phase === 'mid-data')
        t.same(
          atHop(id).map((m) => m.complete),
          [false],
          `${id}: the hop never got the terminating dot`,
        );
      if (phase === 'after-hop-250')
        t.match(
          atHop(id).map((m) => m.reply),
          [QUEUED],
          `${id}: the hop accepted it once`,
        );
    }
    checkLedger(t, ledger, hop);

    // The senders keep responsibility: they retry on a restarted relay, and nothing is lost.
    const again = await spawnRelay(t, stateDir, hop.port);
    const c = await faultClient(t, again.port);
    for (const id of faultIds) {
      const view = await sendMessage(c, ledger, id, bodies.get(id) ?? '');
      t.match(view.final ?? '', QUEUED, `${id} delivered on retry`);
    }
    t.equal(await c.send('QUIT'), '221 Bye');
    checkLedger(t, ledger, hop);
    const all = [...warmIds.flat(), ...faultIds];
    const delivered = ledger.delivered();
    t.same(
      all.filter((id) => !delivered.has(id) || !hop.accepted().some((m) => m.id === id)),
      [],
      'every message is accepted by the hop and acknowledged to its sender',
    );
    const duplicates = all.filter((id) => hop.accepted().filter((m) => m.id === id).length > 1);
    // A duplicate is acceptable (RFC 5321 §6.1 favours it over a loss), and only when the hop
    // accepted a message whose 250 died with the relay.
    t.same(duplicates, phase === 'after-hop-250' ? faultIds : [], 'duplicates only where expected');
  });
}
