// Key files (mode 0600, no silent overwrite, corrupt files refused) and domain-separated signatures.
import { describe, it, expect, afterAll } from 'vitest';
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateKeyPair,
  keyPairFromLabel,
  saveKeyFile,
  loadKeyFile,
  sign,
  verify,
  signingBytes,
  addressOf,
  addressHex,
} from '../../src/core/keys.js';
import { CryptoError } from '../../src/core/errors.js';
import { encode } from '../../src/core/codec.js';
import {
  TxBodySchema,
  VoteBodySchema,
  signTx,
  verifyTxSignature,
  signVote,
  verifyVoteSignature,
  VOTE_PRECOMMIT,
  type TxBody,
  type VoteBody,
} from '../../src/core/types.js';
import { toHex } from '../../src/core/bytes.js';

const dir = mkdtempSync(join(tmpdir(), 'autochain-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cryptoCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CryptoError);
    return (e as CryptoError).code;
  }
  throw new Error('expected a CryptoError');
}

describe('key files', () => {
  it('saves with mode 0600 and loads the same key', () => {
    const kp = generateKeyPair();
    const path = join(dir, 'sub', 'validator.key');
    saveKeyFile(path, kp);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const loaded = loadKeyFile(path);
    expect(toHex(loaded.publicKey)).toBe(toHex(kp.publicKey));
    const msg = new Uint8Array([1, 2, 3]);
    expect(verify(msg, sign(msg, loaded), kp.publicKey)).toBe(true);
    const json = JSON.parse(readFileSync(path, 'utf8')) as { address: string };
    expect(json.address).toBe(addressHex(kp.publicKey));
  });

  it('refuses to overwrite an existing key file unless asked, and the old key survives', () => {
    const path = join(dir, 'once.key');
    const first = keyPairFromLabel('first');
    saveKeyFile(path, first);
    expect(() => saveKeyFile(path, keyPairFromLabel('second'))).toThrow(/EEXIST/);
    expect(toHex(loadKeyFile(path).publicKey)).toBe(toHex(first.publicKey));
    saveKeyFile(path, keyPairFromLabel('second'), { overwrite: true });
    expect(toHex(loadKeyFile(path).publicKey)).toBe(toHex(keyPairFromLabel('second').publicKey));
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('rejects missing, corrupt and inconsistent key files', () => {
    const good = JSON.parse(
      JSON.stringify({
        type: 'ed25519',
        publicKey: toHex(keyPairFromLabel('a').publicKey),
        address: addressHex(keyPairFromLabel('a').publicKey),
        seed: toHex(keyPairFromLabel('a').secretKey.subarray(0, 32)),
      }),
    ) as Record<string, string>;
    const cases: [string, string][] = [
      ['not json', '{"type": "ed25519", '],
      ['wrong type', JSON.stringify({ ...good, type: 'rsa' })],
      ['short seed', JSON.stringify({ ...good, seed: good.seed!.slice(2) })],
      ['non-hex seed', JSON.stringify({ ...good, seed: 'zz'.repeat(32) })],
      ['public key of another seed', JSON.stringify({ ...good, publicKey: toHex(keyPairFromLabel('b').publicKey) })],
      ['empty', ''],
    ];
    for (const [name, content] of cases) {
      const path = join(dir, `bad-${name.replace(/\W/g, '_')}.key`);
      writeFileSync(path, content);
      expect(
        cryptoCode(() => loadKeyFile(path)),
        name,
      ).toBe('BAD_KEY_FILE');
    }
    expect(cryptoCode(() => loadKeyFile(join(dir, 'missing.key')))).toBe('BAD_KEY_FILE');
  });

  it('derives 20-byte addresses from public keys and refuses bad keys', () => {
    const kp = keyPairFromLabel('addr');
    expect(addressOf(kp.publicKey)).toHaveLength(20);
    expect(addressHex(kp.publicKey)).toMatch(/^[0-9a-f]{40}$/);
    expect(cryptoCode(() => addressOf(new Uint8Array(31)))).toBe('BAD_KEY');
  });

  it('verify returns false for malformed keys and signatures instead of throwing', () => {
    const kp = keyPairFromLabel('v');
    const msg = new Uint8Array([9]);
    const sig = sign(msg, kp);
    expect(verify(msg, sig.subarray(0, 63), kp.publicKey)).toBe(false);
    expect(verify(msg, sig, kp.publicKey.subarray(0, 31))).toBe(false);
    expect(verify(msg, new Uint8Array(64), kp.publicKey)).toBe(false);
  });
});

describe('domain separation', () => {
  const kp = keyPairFromLabel('domain');
  const txBody: TxBody = {
    chainId: 'chain-a',
    sender: kp.publicKey,
    nonce: 1n,
    gasLimit: 50_000n,
    module: 'asset',
    op: 'transfer',
    args: new Uint8Array([1]),
  };
  const voteBody: VoteBody = {
    chainId: 'chain-a',
    type: VOTE_PRECOMMIT,
    height: 5n,
    round: 0,
    blockHash: new Uint8Array(32).fill(1),
    validator: addressOf(kp.publicKey),
  };

  it('a tx signature never verifies as a vote, proposal or attestation over the same bytes', () => {
    const tx = signTx(txBody, kp);
    expect(verifyTxSignature(tx)).toBe(true);
    const body = encode(TxBodySchema, txBody);
    for (const domain of ['vote', 'proposal', 'attestation'] as const) {
      expect(verify(signingBytes(domain, body), tx.signature, kp.publicKey), domain).toBe(false);
    }
    // Nor does a raw signature over the body without the domain tag.
    expect(verify(body, tx.signature, kp.publicKey)).toBe(false);
  });

  it('a vote signature never verifies as a tx', () => {
    const vote = signVote(voteBody, kp);
    expect(verifyVoteSignature(vote, kp.publicKey)).toBe(true);
    const body = encode(VoteBodySchema, voteBody);
    expect(verify(signingBytes('tx', body), vote.signature, kp.publicKey)).toBe(false);
  });

  it('a signature made for chain A fails on chain B', () => {
    const tx = signTx(txBody, kp);
    expect(verifyTxSignature({ ...tx, body: { ...txBody, chainId: 'chain-b' } })).toBe(false);
    const vote = signVote(voteBody, kp);
    expect(verifyVoteSignature({ ...vote, body: { ...voteBody, chainId: 'chain-b' } }, kp.publicKey)).toBe(false);
  });

  it('any change to a signed tx body breaks its signature', () => {
    const tx = signTx(txBody, kp);
    const changed: Partial<TxBody>[] = [
      { nonce: 2n },
      { gasLimit: 50_001n },
      { op: 'issue' },
      { args: new Uint8Array([2]) },
    ];
    for (const c of changed) {
      expect(verifyTxSignature({ ...tx, body: { ...txBody, ...c } }), JSON.stringify(Object.keys(c))).toBe(false);
    }
    expect(verifyTxSignature({ ...tx, body: { ...txBody, sender: keyPairFromLabel('other').publicKey } })).toBe(false);
  });
});
