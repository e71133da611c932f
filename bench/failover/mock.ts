// One channel's mock upstream for bench/failover.ts, in its own process: test/upstreams/openai.ts, plus an IPC
// channel through which the bench switches its fault and reads when it was asked for chat completions.
//   node --import tsx bench/failover/mock.ts [PORT]     (PORT 0 or absent: any free port; needs an IPC parent)
// Prints one line `{"port":N}` on stdout when listening. Stops on SIGTERM/SIGINT and when its parent goes away.
//
// Faults (messages from the parent, see MockCommand), all through the mock's server-wide `fault` option, so this
// upstream is broken in one specific way while the secondary serves the same requests normally:
//   ok     normal answers;
//   503    `{ status: 503 }`: every request gets 503 with OpenAI's error body;
//   hang   `{ directives: '#hang' }`: never answer, not even headers;
//   cut    `{ directives: '#cut:0' }`: streaming: 200, the role chunk, then the socket is destroyed before any
//          content (no [DONE]).
// The bench checks before each scenario, with a direct request, that the mock really behaves as asked
// (upstreams.ts `checkFault`), so a change in the mock cannot silently void a scenario.
import { startMockOpenAI } from '../../test/upstreams/openai.ts';
import type { MockFault, RecordedRequest } from '../../test/upstreams/openai.ts';
import { MOCK_API_KEY } from '../lib/constants.ts';
import type { FaultMode, MockCommand, MockReply } from './protocol.ts';

const port = Number(process.argv[2] ?? '0');
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`failover mock: bad port ${process.argv[2] ?? ''}\n`);
  process.exit(2);
}
if (!process.send) {
  process.stderr.write('failover mock: must be started with an IPC channel (by bench/failover.ts)\n');
  process.exit(2);
}

let mode: FaultMode = 'ok';
/** Epoch milliseconds at which each chat completion request arrived (body read), since the last mode change. */
let arrivals = new Float64Array(1 << 16);
let count = 0;

function recordArrival(at: number): void {
  if (count === arrivals.length) {
    const bigger = new Float64Array(arrivals.length * 2);
    bigger.set(arrivals);
    arrivals = bigger;
  }
  arrivals[count] = at;
  count += 1;
}

const FAULTS: Record<FaultMode, MockFault | undefined> = {
  ok: undefined,
  '503': { status: 503 },
  hang: { directives: '#hang' },
  cut: { directives: '#cut:0' },
};

function fault(request: RecordedRequest): MockFault | undefined {
  if (request.method !== 'POST' || request.path !== '/v1/chat/completions') return undefined;
  recordArrival(Date.now());
  return FAULTS[mode];
}

const mock = await startMockOpenAI({ port, host: '127.0.0.1', apiKey: MOCK_API_KEY, maxRecorded: 0, fault });
process.stdout.write(`${JSON.stringify({ port: mock.port })}\n`);

const MAX_TIMES = 500;
process.on('message', (raw: unknown) => {
  const msg = raw as MockCommand;
  let reply: MockReply;
  if (msg.type === 'mode') {
    mode = msg.mode;
    count = 0;
    reply = { type: 'ack', id: msg.id };
  } else {
    const after: number[] = [];
    let afterCount = 0;
    for (let i = 0; i < count; i++) {
      const t = arrivals[i] ?? 0;
      if (t > msg.since) {
        afterCount += 1;
        if (after.length < MAX_TIMES) after.push(t);
      }
    }
    reply = { type: 'arrivals', id: msg.id, total: count, afterCount, after, first: count > 0 ? (arrivals[0] ?? null) : null };
  }
  process.send?.(reply);
});

let stopping = false;
function stop(): void {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(0), 2000);
  force.unref();
  mock.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
