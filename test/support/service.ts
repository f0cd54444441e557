// The service under test: apps with known API keys, a spied memory store and a memory mailer on a hand-moved clock.
import { createHash, randomBytes } from 'node:crypto';
import { memoryCodeStore } from 'npuser';
import { createService, type Service, type ServiceAccessLogEntry, type ServiceAppConfig, type ServiceConfig } from 'npuser/http';
import { memoryMailer, type MemoryMailer } from 'npuser/testing';
import { testClock, type TestClock } from './helpers.js';
import { spyStore, type SpyStore } from './spy-store.js';

export const BASE = 'http://npuser.test';

/** A new API key of `mode` and the SHA-256 the configuration holds. */
export function apiKey(mode: 'live' | 'test' = 'live'): { key: string; sha256: string } {
  const key = `${mode === 'test' ? 'npu_test_' : 'npu_sk_'}${randomBytes(32).toString('base64url')}`;
  return { key, sha256: createHash('sha256').update(key).digest('hex') };
}

export function secret(label: string): string {
  return `${label}: a service test secret of at least 32 bytes`;
}

export interface ServiceSetup {
  service: Service;
  store: SpyStore;
  mailer: MemoryMailer;
  clock: TestClock;
  logs: ServiceAccessLogEntry[];
  /** Live app `blog` (keys `blog`, `blog2`), live app `shop` (key `shop`), test app `sandbox` (key `sandbox`), HS256 app `legacy` (key `legacy`). */
  keys: Record<'blog' | 'blog2' | 'shop' | 'sandbox' | 'legacy', string>;
}

/** The four apps most tests use, and `extra` options on top. */
export function serviceSetup(extra: Partial<ServiceConfig> = {}, clock = testClock()): ServiceSetup {
  const blog = apiKey();
  const blog2 = apiKey();
  const shop = apiKey();
  const sandbox = apiKey('test');
  const legacy = apiKey();
  const apps: ServiceAppConfig[] = [
    {
      id: 'blog',
      name: 'My blog',
      secret: secret('blog'),
      apiKeys: [
        { id: 'k1', sha256: blog.sha256 },
        { id: 'k2', sha256: blog2.sha256, notAfter: new Date(clock.now() + 3_600_000).toISOString() },
      ],
    },
    { id: 'shop', name: 'The shop', secret: secret('shop'), apiKeys: [{ id: 'k1', sha256: shop.sha256 }] },
    { id: 'sandbox', mode: 'test', secret: secret('sandbox'), apiKeys: [{ id: 't1', sha256: sandbox.sha256 }] },
    { id: 'legacy', tokenSigning: 'HS256', secret: secret('legacy'), apiKeys: [{ id: 'k1', sha256: legacy.sha256 }] },
  ];
  const store = spyStore(memoryCodeStore({ now: clock.now }), { record: true });
  const mailer = memoryMailer();
  const logs: ServiceAccessLogEntry[] = [];
  const service = createService({ apps, store, mailer, now: clock.now, onAccess: (entry) => logs.push(entry), ...extra });
  return {
    service,
    store,
    mailer,
    clock,
    logs,
    keys: { blog: blog.key, blog2: blog2.key, shop: shop.key, sandbox: sandbox.key, legacy: legacy.key },
  };
}

/** A JSON POST with the key as Bearer. */
export function post(path: string, body: unknown, key: string | undefined, headers: Record<string, string> = {}): Request {
  return new Request(BASE + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key === undefined ? {} : { authorization: `Bearer ${key}` }), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
  text: string;
}

export async function call(service: Service, request: Request): Promise<Answer> {
  const response = await service(request);
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    // Not JSON: the test reads `text`.
  }
  return { status: response.status, headers: response.headers, body, text };
}

/** Request a code for `email` through app `key` and read it from the mailer. */
export async function signIn(s: ServiceSetup, key: string, email: string): Promise<{ token: string; subject: string }> {
  const requested = await call(s.service, post('/v1/request-code', { email }, key));
  if (requested.status !== 200) throw new Error(`request-code answered ${requested.status}: ${requested.text}`);
  const code = (requested.body.code as string | undefined) ?? s.mailer.lastCodeFor(email);
  if (code === undefined) throw new Error('no code');
  const verified = await call(s.service, post('/v1/verify-code', { email, code }, key));
  if (verified.status !== 200) throw new Error(`verify-code answered ${verified.status}: ${verified.text}`);
  return { token: verified.body.token as string, subject: verified.body.subject as string };
}
