// A console API client over plain fetch with its own cookie jar (one per "browser"), CSRF handled like a
// browser app would: GET /console/v1/auth/csrf once, then X-CSRF-Token on every POST/DELETE.
// Plus a real SMTP server (smtp-server) whose received mails are parsed (mailparser), for following links.
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ConsoleResponse {
  status: number;
  json: Record<string, unknown>;
  headers: Headers;
}

export class ConsoleClient {
  readonly cookies = new Map<string, string>();
  private csrf: string | undefined;

  constructor(readonly baseUrl: string) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private remember(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a) || /^\s*max-age=0\b/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ConsoleResponse> {
    if (method !== 'GET' && this.csrf === undefined && !path.startsWith('/auth/csrf')) await this.refreshCsrf();
    const res = await fetch(`${this.baseUrl}/console/v1${path}`, {
      method,
      headers: {
        ...(this.cookies.size > 0 ? { cookie: this.cookieHeader() } : {}),
        ...(method !== 'GET' && this.csrf ? { 'x-csrf-token': this.csrf } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    this.remember(res.headers);
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers };
  }

  async refreshCsrf(): Promise<string> {
    const res = await this.request('GET', '/auth/csrf');
    this.csrf = String(res.json.csrf_token);
    return this.csrf;
  }

  get = (path: string) => this.request('GET', path);
  post = (path: string, body?: unknown) => this.request('POST', path, body);
  del = (path: string) => this.request('DELETE', path);

  session(): string | undefined {
    return this.cookies.get('sy_session');
  }
}

export const uniqueEmail = (): string => `user-${randomBytes(5).toString('hex')}@example.test`;
export const PASSWORD = 'correct horse battery staple';

export interface ReceivedMail {
  to: string[];
  from: string;
  subject: string;
  text: string;
  links: string[];
}

export interface TestSmtp {
  url: string;
  mails: ReceivedMail[];
  /** Resolves with the first mail (received now or later) that matches. */
  waitFor(match: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

/** A real SMTP peer on a random port (no TLS, any credentials accepted), collecting parsed mails. */
export async function startTestSmtp(options: { hang?: boolean; refuseFirst?: number } = {}): Promise<TestSmtp> {
  let refuse = options.refuseFirst ?? 0;
  const mails: ReceivedMail[] = [];
  const waiters: Array<{ match: (m: ReceivedMail) => boolean; resolve: (m: ReceivedMail) => void }> = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onConnect(_session, callback) {
      if (options.hang) return; // never answers: the gateway's timeouts must cope
      callback();
    },
    onData(stream, _session, callback) {
      if (refuse > 0) {
        // A temporary refusal, as a busy or greylisting server answers: the sender should try again later.
        refuse -= 1;
        stream.resume();
        stream.on('end', () => callback(Object.assign(new Error('Try again later'), { responseCode: 451 })));
        return;
      }
      simpleParser(stream)
        .then((parsed) => {
          const text = parsed.text ?? '';
          const toField = [parsed.to ?? []].flat();
          const mail: ReceivedMail = {
            to: toField.flatMap((a) => a.value.map((v) => v.address ?? '')),
            from: parsed.from?.value[0]?.address ?? '',
            subject: parsed.subject ?? '',
            text,
            links: [...text.matchAll(/https?:\/\/\S+/g)].map((m) => m[0]),
          };
          mails.push(mail);
          for (const w of [...waiters]) {
            if (w.match(mail)) {
              waiters.splice(waiters.indexOf(w), 1);
              w.resolve(mail);
            }
          }
          callback();
        })
        .catch((error: unknown) => callback(error as Error));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    waitFor(match, timeoutMs = 10_000) {
      const found = mails.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no matching mail arrived')), timeoutMs);
        waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A signed-up, signed-in console user. `verified` marks the address verified in the store (setup only: the
 * emailed-link flow itself is tested in test/console/accounts.test.ts). */
export async function consoleUser(
  gateway: { url: string; gateway: { deps: { store: { accounts: { markEmailVerified(id: string, at: Date): Promise<boolean> } } } } },
  options: { verified?: boolean } = {},
): Promise<{ c: ConsoleClient; email: string; userId: string }> {
  const c = new ConsoleClient(gateway.url);
  const email = uniqueEmail();
  const res = await c.post('/auth/signup', { email, password: PASSWORD });
  if (res.status !== 201) throw new Error(`sign-up failed: ${res.status} ${JSON.stringify(res.json)}`);
  const userId = String((res.json.user as { id: string }).id);
  if (options.verified ?? true) await gateway.gateway.deps.store.accounts.markEmailVerified(userId, new Date());
  return { c, email, userId };
}
