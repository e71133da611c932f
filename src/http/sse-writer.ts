// Writes a stream to the client chunk by chunk. At most `maxBuffered` bytes wait in the process for a slow client:
// past that, `write` waits for the socket to drain, so the caller stops reading its upstream (which undici then
// stops reading from the network). Each write can say what it delivers; that is reported once the bytes have
// left the process — bytes still buffered toward a socket that closed were never delivered (docs/billing.md).
// A client that stays connected but reads nothing would hold the stream, its upstream connection and its hold
// forever: with the buffer full and no drain for `stallMs`, the response is destroyed (the client is gone).
import type { ServerResponse } from 'node:http';

/** Per-stream buffering toward the client (issue 11). */
export const MAX_BUFFERED_BYTES = 1024 * 1024;

interface PendingWrite {
  settled: boolean;
  delivered?: () => void;
}

export class StreamWriter {
  private readonly pending: PendingWrite[] = [];

  constructor(
    private readonly res: ServerResponse,
    private readonly stallMs: number,
    private readonly maxBuffered = MAX_BUFFERED_BYTES,
  ) {}

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  /** Writes `text`; `delivered` runs once it has been handed to the operating system (never if it is not). */
  async write(text: string, delivered?: () => void): Promise<void> {
    if (this.closed) return;
    const entry: PendingWrite = delivered ? { settled: false, delivered } : { settled: false };
    this.pending.push(entry);
    this.res.write(text, (error) => {
      if (!entry.settled) {
        entry.settled = true;
        if (!error) entry.delivered?.();
      }
      while (this.pending[0]?.settled) this.pending.shift();
    });
    if (this.res.writableLength <= this.maxBuffered || this.closed) return;
    await new Promise<void>((resolve) => {
      const stalled = setTimeout(() => this.res.destroy(), this.stallMs);
      const done = (): void => {
        clearTimeout(stalled);
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  /**
   * The stream ends normally while the client is still there: what is still buffered will be delivered after
   * this process has settled, so it counts as delivered now.
   */
  deliverBuffered(): void {
    for (const entry of this.pending.splice(0)) {
      if (entry.settled) continue;
      entry.settled = true;
      entry.delivered?.();
    }
  }

  end(text?: string): void {
    if (this.closed) return;
    if (text) this.res.end(text);
    else this.res.end();
  }
}
