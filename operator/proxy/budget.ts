// Bounds on what the proxy holds in memory. Bodies are always streamed
// through; the copies kept for parsing and shadow comparison are the only
// buffers, and each is drawn from one shared byte budget. A copy that would
// overrun its own limit (maxParseBytes) or the shared budget (maxBufferedBytes)
// is dropped at once and its payload counted as unparsed: the client's answer
// never depends on it, so memory is bounded whatever clients or the model send.

/** Bytes held by body copies across all requests, at most `limit`. */
export class ByteBudget {
  held = 0;
  readonly limit: number;
  private readonly onChange: (held: number) => void;
  constructor(limit: number, onChange: (held: number) => void = () => {}) {
    this.limit = limit;
    this.onChange = onChange;
  }
  take(n: number): boolean {
    if (this.held + n > this.limit) return false;
    this.held += n;
    this.onChange(this.held);
    return true;
  }
  give(n: number): void {
    this.held -= n;
    this.onChange(this.held);
  }
}

/**
 * A body copy for parsing. Stops copying (and gives up parsing) past `limit`
 * bytes or when the budget is spent; `release` returns its bytes to the
 * budget (idempotent). Without a budget (`undefined`) it never copies: the
 * request is beyond the in-flight cap and is only forwarded.
 */
export class BodyCopy {
  private chunks: Buffer[] = [];
  private held = 0;
  /** Bytes seen, copied or not (for the size histograms). */
  size = 0;
  private dropped: boolean;
  private readonly limit: number;
  private readonly budget: ByteBudget | undefined;
  constructor(limit: number, budget: ByteBudget | undefined) {
    this.limit = limit;
    this.budget = budget;
    this.dropped = budget === undefined;
  }
  add(chunk: Buffer): void {
    this.size += chunk.length;
    if (this.dropped) return;
    if (this.size > this.limit || !this.budget?.take(chunk.length)) {
      this.drop();
      return;
    }
    this.chunks.push(chunk);
    this.held += chunk.length;
  }
  private drop(): void {
    this.dropped = true;
    this.release();
  }
  /** Whether the whole body was copied. */
  get complete(): boolean {
    return !this.dropped;
  }
  buffer(): Buffer {
    return this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
  }
  release(): void {
    this.chunks = [];
    if (this.held) this.budget?.give(this.held);
    this.held = 0;
  }
}
