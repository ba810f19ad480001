// Signature verification and hashing on one core: the physical limit of the chain (every validator verifies every tx).
import { createPublicKey, verify as nodeVerify, createHash, hash as oneShotHash } from 'node:crypto';
import sodium from 'sodium-native';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { keyPairFromLabel, sign, verify } from '../src/core/keys.js';
import { sha256 } from '../src/core/hash.js';
import { opsPerSecond, printTable, saveResults } from './report.js';

const kp = keyPairFromLabel('bench');
const msg = new Uint8Array(200).fill(7);
const sig = sign(msg, kp);
const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(kp.publicKey)]);
const nodeKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });

const rows = [
  {
    op: 'ed25519 verify',
    impl: 'sodium-native (used)',
    opsPerSec: opsPerSecond(() => void verify(msg, sig, kp.publicKey)),
  },
  {
    op: 'ed25519 verify',
    impl: 'node:crypto',
    opsPerSec: opsPerSecond(() => void nodeVerify(null, msg, nodeKey, sig)),
  },
  {
    op: 'ed25519 verify',
    impl: '@noble/curves',
    opsPerSec: opsPerSecond(() => void ed25519.verify(sig, msg, kp.publicKey, { zip215: false }), 500),
  },
  { op: 'ed25519 sign', impl: 'sodium-native (used)', opsPerSec: opsPerSecond(() => void sign(msg, kp)) },
  { op: 'sha256 200 B', impl: 'src/core/hash sha256 (used)', opsPerSec: opsPerSecond(() => void sha256(msg)) },
  {
    op: 'sha256 200 B',
    impl: 'node:crypto createHash',
    opsPerSec: opsPerSecond(() => void createHash('sha256').update(msg).digest()),
  },
  {
    op: 'sha256 200 B',
    impl: 'node:crypto hash() one-shot',
    opsPerSec: opsPerSecond(() => void oneShotHash('sha256', msg, 'buffer')),
  },
  {
    op: 'sha256 200 B',
    impl: 'sodium-native crypto_hash_sha256',
    opsPerSec: opsPerSecond(() => void sodium.crypto_hash_sha256(Buffer.allocUnsafe(32), msg)),
  },
  { op: 'sha256 200 B', impl: '@noble/hashes', opsPerSec: opsPerSecond(() => void nobleSha256(msg)) },
];
printTable('crypto, one core', rows);
console.log('saved', saveResults('crypto', { rows }));
