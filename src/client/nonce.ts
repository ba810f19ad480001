// Local nonce tracking for one sender: fetch the account's next nonce once, then hand out consecutive nonces, so
// several txs can be signed and submitted in a row without waiting for each to commit.

export class NonceTracker {
  private next: bigint | null = null;
  private fetching: Promise<bigint> | null = null;

  /** `fetchNonce` returns the account's next nonce as the chain knows it (account_get). */
  constructor(private readonly fetchNonce: () => Promise<bigint>) {}

  /** The nonce for the next tx; consecutive calls return consecutive nonces, even when made concurrently. */
  async take(): Promise<bigint> {
    if (this.next === null) {
      if (this.fetching === null) {
        this.fetching = this.fetchNonce().finally(() => {
          this.fetching = null;
        });
        const fetched = await this.fetching;
        // Another caller may have reset the tracker meanwhile; the first one back seeds the counter.
        if (this.next === null) this.next = fetched;
      } else {
        await this.fetching;
      }
      // A concurrent reset can leave the counter empty: ask again rather than guess.
      if (this.next === null) return this.take();
    }
    const n = this.next;
    this.next = n + 1n;
    return n;
  }

  /** The nonce the next `take` returns, without taking it (null when not fetched yet). */
  peek(): bigint | null {
    return this.next;
  }

  /**
   * Forgets the local counter, so the next `take` asks the chain again. Called when the node refused a tx: a refused
   * tx does not use its nonce, and the chain's count is the truth.
   */
  reset(): void {
    this.next = null;
  }
}
