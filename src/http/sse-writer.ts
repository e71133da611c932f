// Writes a stream to the client chunk by chunk, honouring backpressure, never buffering the whole.
import type { ServerResponse } from 'node:http';

export class StreamWriter {
  constructor(private readonly res: ServerResponse) {}

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  async write(text: string): Promise<void> {
    if (this.closed) return;
    if (this.res.write(text)) return;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.on('drain', done);
      this.res.on('close', done);
    });
  }

  end(text?: string): void {
    if (this.closed) return;
    if (text) this.res.end(text);
    else this.res.end();
  }
}
