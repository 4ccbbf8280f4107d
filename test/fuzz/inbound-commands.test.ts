// Seeded fuzzing of the inbound side: mutated command sequences and hostile tokens against the relay process; every complete command line gets exactly one reply, nothing hangs, the process stays alive, and a fresh session relays a message end to end afterwards. Reproduce a failure with FUZZ_SEEDS=<seed>.
import t from 'tap';
import { startFaultHop } from '../support/fault-hop.js';
import { ClientLedger, faultClient, faultMessage, sendMessage } from '../support/fault-ledger.js';
import { relayStateDir, spawnRelay } from '../support/fault-relay-process.js';
import { fuzzCase } from '../support/fuzz-corpus.js';
import { prng, seedsFromEnv } from '../support/fuzz-prng.js';
import { runCase } from '../support/fuzz-session.js';

const CASES_PER_SEED = 150;
const PARALLEL = 6;

for (const seed of seedsFromEnv([11, 22, 33])) {
  void t.test(`fuzz seed ${seed}: ${CASES_PER_SEED} mutated sessions`, async (t) => {
    const hop = await startFaultHop();
    t.teardown(() => hop.close());
    const relay = await spawnRelay(t, await relayStateDir(t), hop.port);
    let died: string | null = null;
    void relay.exited.then((how) => (died = String(how)));

    const rng = prng(seed);
    const cases = Array.from({ length: CASES_PER_SEED }, () => fuzzCase(rng));
    const failures: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < cases.length && died === null) {
          const index = next++;
          const fuzz = cases[index];
          if (!fuzz) break;
          const outcome = await runCase(relay.port, fuzz);
          if (outcome.violations.length > 0)
            failures.push(
              `seed ${seed} case ${index}: ${outcome.violations.join('; ')}\n  ${outcome.transcript.join('\n  ')}`,
            );
        }
      }),
    );
    t.same(failures, [], `one reply per command line, no hang (FUZZ_SEEDS=${seed} reproduces)`);
    t.equal(died, null, 'the relay process is alive');

    // Liveness: a fresh session relays one message end to end.
    const c = await faultClient(t, relay.port);
    const ledger = new ClientLedger();
    const id = `liveness-${seed}@client.test`;
    const view = await sendMessage(c, ledger, id, faultMessage(id, 500, rng));
    t.match(view.final, /^250 2\.0\.0 Ok: queued as H\d+$/, 'the liveness probe is relayed');
    t.ok(
      hop.accepted().some((m) => m.id === id),
      'and the next hop has it',
    );
  });
}
