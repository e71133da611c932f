// Cost of the accounts path: argon2id hash and verify, a session-authenticated console read, a login.
// Run: node --import tsx bench/accounts.ts   (a rough local figure, medians; not a test)
import { hashPassword, verifyPassword } from '../src/accounts/passwords.ts';
import { ConsoleClient, PASSWORD, uniqueEmail } from '../test/helpers/console.ts';
import { startTestGateway } from '../test/helpers/gateway.ts';

const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

async function time(n: number, work: () => Promise<unknown>): Promise<string> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await work();
    samples.push(performance.now() - start);
  }
  return `${median(samples).toFixed(2)} ms (median of ${n})`;
}

const stored = await hashPassword(PASSWORD);
console.log('argon2id hash              ', await time(20, () => hashPassword(PASSWORD)));
console.log('argon2id verify            ', await time(20, () => verifyPassword(stored, PASSWORD)));
const t = await startTestGateway();
try {
  const c = new ConsoleClient(t.url);
  const email = uniqueEmail();
  await c.post('/auth/signup', { email, password: PASSWORD });
  console.log('GET /console/v1/profile    ', await time(200, () => c.get('/profile')));
  console.log('POST /console/v1/auth/login', await time(20, () => c.post('/auth/login', { email, password: PASSWORD })));
} finally {
  await t.close();
}
