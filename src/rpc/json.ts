// Renders chain objects as the RPC's JSON (bigint -> decimal string, bytes -> lowercase hex); see api.ts.
import { toHex } from '../core/bytes.js';
import { addressOf } from '../core/keys.js';
import { encodeBlock, txHash, blockHash, type Block, type Commit, type Header, type Tx } from '../core/types.js';
import type { Receipt, VmEvent } from '../vm/types.js';
import type { JsonBlock, JsonCommit, JsonEvent, JsonHeader, JsonReceipt, JsonTx } from './api.js';

export function eventJson(e: VmEvent): JsonEvent {
  return { module: e.module, type: e.type, attrs: { ...e.attrs } };
}

export function receiptJson(r: Receipt): JsonReceipt {
  return {
    txHash: toHex(r.txHash),
    code: r.code,
    message: r.message,
    gasUsed: r.gasUsed.toString(),
    events: r.events.map(eventJson),
  };
}

export function txJson(tx: Tx, hash: Uint8Array): JsonTx {
  const b = tx.body;
  return {
    hash: toHex(hash),
    chainId: b.chainId,
    sender: toHex(b.sender),
    senderAddress: toHex(addressOf(b.sender)),
    nonce: b.nonce.toString(),
    gasLimit: b.gasLimit.toString(),
    module: b.module,
    op: b.op,
    args: toHex(b.args),
    signature: toHex(tx.signature),
  };
}

export function headerJson(h: Header): JsonHeader {
  return {
    chainId: h.chainId,
    height: h.height.toString(),
    timeMs: h.timeMs.toString(),
    prevHash: toHex(h.prevHash),
    txRoot: toHex(h.txRoot),
    stateRoot: toHex(h.stateRoot),
    resultsRoot: toHex(h.resultsRoot),
    validatorsHash: toHex(h.validatorsHash),
    nextValidatorsHash: toHex(h.nextValidatorsHash),
    lastCommitHash: toHex(h.lastCommitHash),
    evidenceRoot: toHex(h.evidenceRoot),
    proposer: toHex(h.proposer),
    gasUsed: h.gasUsed.toString(),
  };
}

export function commitJson(c: Commit): JsonCommit {
  return {
    height: c.height.toString(),
    round: c.round,
    blockHash: toHex(c.blockHash),
    signatures: c.signatures.map((s) => ({ validator: toHex(s.validator), signature: toHex(s.signature) })),
  };
}

/** `decodeTxBytes` decodes the block's tx bytes (they were validated when the block was made). */
export function blockJson(block: Block, decodeTxBytes: (b: Uint8Array) => Tx, raw?: Uint8Array): JsonBlock {
  return {
    hash: toHex(blockHash(block.header)),
    header: headerJson(block.header),
    txs: block.txs.map((b) => txJson(decodeTxBytes(b), txHash(b))),
    evidenceCount: block.evidence.length,
    lastCommit: block.lastCommit === null ? null : commitJson(block.lastCommit),
    raw: toHex(raw ?? encodeBlock(block)),
  };
}
