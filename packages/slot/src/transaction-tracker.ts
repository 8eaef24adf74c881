/**
 * @internal follows transaction boundaries in raw pgoutput payloads (first byte = message tag),
 * on the socket side, without decoding. It answers one question for the idle-WAL rule: is any
 * transaction open (begun, or streamed in part, but not yet committed/prepared/aborted)?
 */
export class TransactionTracker {
  #inTransaction = false;
  readonly #streamed = new Set<number>();

  /** Whether some transaction is open. */
  get open(): boolean {
    return this.#inTransaction || this.#streamed.size > 0;
  }

  /** Looks at one XLogData payload. */
  observe(payload: Buffer): void {
    if (payload.length === 0) return;
    switch (payload[0]) {
      case 0x42: // 'B' begin
      case 0x62: // 'b' begin prepare
        this.#inTransaction = true;
        break;
      case 0x43: // 'C' commit
      case 0x50: // 'P' prepare
        this.#inTransaction = false;
        break;
      case 0x53: // 'S' stream start: xid
        if (payload.length >= 5) this.#streamed.add(payload.readInt32BE(1));
        break;
      case 0x63: // 'c' stream commit: xid
        if (payload.length >= 5) this.#streamed.delete(payload.readInt32BE(1));
        break;
      case 0x41: // 'A' stream abort: xid, subxid; a subtransaction abort leaves the transaction open
        if (payload.length >= 9 && payload.readInt32BE(1) === payload.readInt32BE(5))
          this.#streamed.delete(payload.readInt32BE(1));
        break;
      case 0x70: // 'p' stream prepare: flags, prepare lsn, end lsn, time, xid
        if (payload.length >= 30) this.#streamed.delete(payload.readInt32BE(26));
        break;
      default:
        break;
    }
  }

  /** Forgets everything (a new connection starts from a transaction boundary). */
  reset(): void {
    this.#inTransaction = false;
    this.#streamed.clear();
  }
}
