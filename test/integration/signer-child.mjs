// Child process for the signer kill test: signs votes in a loop through the real file store (built dist/), printing
// each signature only after the guard returned it — printing is "the signature leaves the node".
// On start it first tries what an amnesiac node would do: sign a different block at its last signed step.
import { writeSync } from 'node:fs';
import { FileSignStateStore } from '../../dist/src/node/signer-store.js';
import { GuardedSigner } from '../../dist/src/consensus/signer-guard.js';
import { keyPairFromLabel, addressOf } from '../../dist/src/core/keys.js';
import { sha256 } from '../../dist/src/core/hash.js';
import { toHex } from '../../dist/src/core/bytes.js';

const [path, variant] = process.argv.slice(2);
const kp = keyPairFromLabel('signer-kill-test');
const validator = addressOf(kp.publicKey);
const signer = new GuardedSigner({ keyPair: kp }, { store: new FileSignStateStore(path) });
const emit = (o) => writeSync(1, JSON.stringify(o) + '\n');
const hashFor = (h, r, t, v) => sha256(new TextEncoder().encode(`${h}/${r}/${t}/${v}`));

function trySign(height, round, type, v) {
  const body = { chainId: 'kill-chain', type, height, round, blockHash: hashFor(height, round, type, v), validator };
  try {
    const vote = signer.signVote(body);
    emit({ h: String(height), r: round, t: type, hash: toHex(body.blockHash), sig: toHex(vote.signature) });
  } catch (e) {
    if (e.code !== 'SIGN_REFUSED') throw e;
    emit({ refused: e.details.reason, h: String(height), r: round, t: type });
  }
}

const last = signer.lastSigned();
if (last !== null && last.step >= 2) trySign(last.height, last.round, last.step === 2 ? 1 : 2, `amnesia-${variant}`);
emit({ ready: true });
let h = last === null ? 1n : last.height + 1n;
for (;;) {
  for (let r = 0; r < 2; r++) {
    trySign(h, r, 1, variant);
    trySign(h, r, 2, variant);
  }
  h++;
}
