// The IPC messages between bench/failover.ts and its mock upstream processes (bench/failover/mock.ts).

/** What the mock does to every chat completion request (see mock.ts). */
export type FaultMode = 'ok' | '503' | 'hang' | 'cut';

export type MockCommand =
  /** Switch the fault; also forgets the arrivals recorded so far. */
  | { type: 'mode'; id: number; mode: FaultMode }
  /** How many chat completion requests arrived, and which arrived after `since` (epoch ms). */
  | { type: 'arrivals'; id: number; since: number };

export type MockReply =
  | { type: 'ack'; id: number }
  | {
      type: 'arrivals';
      id: number;
      /** Chat completion requests since the last mode change. */
      total: number;
      /** Of those, how many arrived after `since`. */
      afterCount: number;
      /** Their arrival times (epoch ms), the first 500. */
      after: number[];
      /** Arrival time of the first one, or null. */
      first: number | null;
    };
