// The slice of sodium-native's API that autochain uses.
declare module 'sodium-native' {
  const sodium: {
    crypto_sign_SECRETKEYBYTES: number;
    crypto_sign_seed_keypair(pk: Buffer, sk: Buffer, seed: Buffer): void;
    crypto_sign_detached(sig: Buffer, message: Buffer, sk: Buffer): void;
    crypto_sign_verify_detached(sig: Buffer, message: Buffer, pk: Buffer): boolean;
    randombytes_buf(buf: Buffer): void;
    crypto_hash_sha256(out: Uint8Array, input: Uint8Array): void;
  };
  export default sodium;
}
