// The signer guard's durable record on disk: write to a temp file, fsync it, rename over the record, fsync the
// folder. A crash at any point leaves either the old record or the new one, never a torn one, and `save` returns
// only when the new record would survive a power cut — so no signature leaves before its record is durable.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { CodecError } from '../core/errors.js';
import { ConsensusError } from '../consensus/errors.js';
import { decodeSignState, encodeSignState, type SignState, type SignStateStore } from '../consensus/signer-guard.js';

export class FileSignStateStore implements SignStateStore {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  }

  /** The last durable record; null if there is none yet. A corrupt record is an error: never sign blind. */
  load(): SignState | null {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
    try {
      return decodeSignState(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (e) {
      if (e instanceof CodecError) {
        throw new ConsensusError(
          'SIGN_STATE_CORRUPT',
          `${this.path}: unreadable signer state (${e.message}); refusing to sign`,
        );
      }
      throw e;
    }
  }

  save(state: SignState): void {
    const bytes = encodeSignState(state);
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.path);
    const dir = openSync(dirname(this.path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }
}
