// The mock OpenAI upstream in its own process, so it does not share an event loop with the load generator.
//   node --import tsx bench/mock-server.ts [PORT]     (PORT 0 or absent: any free port)
// Prints one line `{"port":N}` on stdout when listening. Stops on SIGTERM/SIGINT, and when the parent that
// started it with an IPC channel goes away (so a crashed bench never leaves it behind).
import { startMockOpenAI } from '../test/upstreams/openai.ts';
import { MOCK_API_KEY } from './lib/constants.ts';

const port = Number(process.argv[2] ?? '0');
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`mock-server: bad port ${process.argv[2] ?? ''}\n`);
  process.exit(2);
}

const mock = await startMockOpenAI({ port, host: '127.0.0.1', apiKey: MOCK_API_KEY, maxRecorded: 0 });
process.stdout.write(`${JSON.stringify({ port: mock.port })}\n`);

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
