import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NpUser, isNpUserError, type NpUserApi } from 'npuser';
import { NpUserClient } from 'npuser/client';
import { memoryMailer } from 'npuser/testing';
import { assertBuilt, bareSpecifiers, DIST } from '../support/dist.js';
import { reachableStrings } from '../support/reachable-strings.js';
import { BASE, serviceSetup, type ServiceSetup } from '../support/service.js';

const EMAIL = 'ada@example.com';

/** A client whose fetch is the handler itself, with every request it made. */
function clientOf(s: ServiceSetup, key: string, wrap?: (request: Request) => Promise<Response> | undefined) {
  const requests: Request[] = [];
  const client = new NpUserClient({
    baseUrl: BASE,
    apiKey: key,
    allowInsecureHttp: true,
    fetch: (input, init) => {
      const request = new Request(input, init);
      requests.push(request.clone());
      return wrap?.(request) ?? s.service(request);
    },
  });
  return { client, requests };
}

async function flow(auth: NpUserApi, codeOf: () => string) {
  const requested = await auth.requestCode(' Ada@Example.com ', { clientKey: '203.0.113.9', locale: 'fr' });
  const verified = await auth.verifyCode(EMAIL, codeOf(), { clientKey: '203.0.113.9' });
  const validated = await auth.validateToken(verified.token);
  await auth.revokeToken(verified.token);
  const revoked = await auth.validateToken(verified.token).catch((err: unknown) => err);
  return { requested, verified, validated, revoked };
}

const shape = (value: object) => Object.fromEntries(Object.entries(value).map(([k, v]) => [k, v instanceof Date ? 'Date' : typeof v]));

describe('NpUserClient', () => {
  it('has the shapes and errors of NpUser: one line switches an app between the two', async () => {
    const s = serviceSetup();
    const { client } = clientOf(s, s.keys.blog);
    const remote = await flow(client, () => s.mailer.lastCodeFor(EMAIL)!);
    const mailer = memoryMailer();
    const local = await flow(new NpUser({ secret: 'a local secret, at least thirty-two bytes', mailer }), () => mailer.lastCodeFor(EMAIL)!);
    for (const key of ['requested', 'verified', 'validated'] as const) expect(shape(remote[key]), key).toEqual(shape(local[key]));
    expect(remote.requested.email).toBe(EMAIL);
    expect(shape(remote.validated.claims)).toEqual(shape(local.validated.claims));
    for (const revoked of [remote.revoked, local.revoked]) expect(isNpUserError(revoked, 'ERR_NPUSER_INVALID_TOKEN')).toBe(true);
  });

  it('throws the coded NpUserError of the problem, with retryAfterSeconds', async () => {
    const s = serviceSetup();
    const { client } = clientOf(s, s.keys.blog);
    await client.requestCode(EMAIL);
    const limited = await client.requestCode(EMAIL).catch((err: unknown) => err);
    expect(limited).toMatchObject({ name: 'NpUserError', code: 'ERR_NPUSER_RATE_LIMITED', retryAfterSeconds: 60 });
    await expect(client.verifyCode(EMAIL, '000000')).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_CODE' });
    await expect(client.requestCode('not an address')).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_EMAIL' });
    await expect(client.validateToken('not.a.token')).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_TOKEN' });
    const other = clientOf(s, s.keys.shop).client;
    const { token } = await client.verifyCode(EMAIL, s.mailer.lastCodeFor(EMAIL)!);
    await expect(other.validateToken(token)).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_TOKEN' });
    s.clock.advance(3_700_000);
    await expect(client.validateToken(token)).rejects.toMatchObject({ code: 'ERR_NPUSER_TOKEN_EXPIRED' });
    const stranger = clientOf(s, `npu_sk_${'A'.repeat(43)}`).client;
    await expect(stranger.validateToken(token)).rejects.toMatchObject({ code: 'ERR_NPUSER_UNAUTHENTICATED' });
  });

  it('returns the code to a test app', async () => {
    const s = serviceSetup();
    const { client } = clientOf(s, s.keys.sandbox);
    const { code } = await client.requestCode(EMAIL);
    expect(code).toMatch(/^[0-9]{6}$/);
    await expect(client.verifyCode(EMAIL, code!)).resolves.toMatchObject({ email: EMAIL });
  });

  it('retries request-code after a lost answer with the same Idempotency-Key: one code is mailed', async () => {
    const s = serviceSetup();
    let calls = 0;
    const { client, requests } = clientOf(s, s.keys.blog, (request) => {
      calls += 1;
      // The first answer is lost on the way back: the service did the work.
      if (calls === 1) return s.service(request).then(() => Promise.reject(new TypeError('fetch failed')));
      return undefined;
    });
    await expect(client.requestCode(EMAIL)).resolves.toMatchObject({ email: EMAIL });
    expect(requests).toHaveLength(2);
    const keys = requests.map((r) => r.headers.get('idempotency-key'));
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    expect(s.mailer.messages).toHaveLength(1);
  });

  it('retries a 503 of validate-token, but never verify-code, nor a 502 or a 429', async () => {
    const s = serviceSetup();
    let failures = 1;
    const unavailable = () =>
      new Response(JSON.stringify({ code: 'ERR_NPUSER_STORE_FAILED', status: 503 }), {
        status: 503,
        headers: { 'content-type': 'application/problem+json', 'retry-after': '0' },
      });
    const { client, requests } = clientOf(s, s.keys.blog, () => (failures-- > 0 ? Promise.resolve(unavailable()) : undefined));
    await expect(client.validateToken('x.y.z')).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_TOKEN' });
    expect(requests).toHaveLength(2);

    failures = 5;
    requests.length = 0;
    await expect(client.verifyCode(EMAIL, '123456')).rejects.toMatchObject({ code: 'ERR_NPUSER_STORE_FAILED' });
    expect(requests).toHaveLength(1);

    s.mailer.failNextSend();
    failures = 0;
    requests.length = 0;
    await expect(client.requestCode(EMAIL)).rejects.toMatchObject({ code: 'ERR_NPUSER_MAILER_FAILED' });
    expect(requests).toHaveLength(1);
    requests.length = 0;
    s.clock.advance(1000);
    await expect(client.requestCode(EMAIL)).rejects.toMatchObject({ code: 'ERR_NPUSER_RATE_LIMITED' });
    expect(requests).toHaveLength(1);
  });

  it('gives up after its retries, and answers a service that does not answer in timeoutMs as unavailable', async () => {
    const never = new NpUserClient({
      baseUrl: 'http://127.0.0.1:9',
      apiKey: `npu_sk_${'A'.repeat(43)}`,
      timeoutMs: 20,
      retries: 1,
      fetch: (_input, init) =>
        new Promise((_resolve, reject) => {
          init?.signal?.addEventListener('abort', () => {
            reject(init.signal!.reason as Error);
          });
        }),
    });
    const error = await never.validateToken('x.y.z').catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'ERR_NPUSER_UNAVAILABLE' });
    expect(String((error as Error).cause)).toMatch(/did not answer within 20 ms/);
  });

  it('never puts the API key in an error, even when fetch does', async () => {
    const key = `npu_sk_${'S'.repeat(43)}`;
    const leaky = new NpUserClient({
      baseUrl: 'https://npuser.example',
      apiKey: key,
      retries: 0,
      fetch: (_input, init) =>
        Promise.reject(new TypeError(`fetch failed with ${JSON.stringify(init?.headers)}`, { cause: { code: 'ECONNREFUSED', key } })),
    });
    const error = await leaky.requestCode(EMAIL).catch((err: unknown) => err);
    expect(error).toMatchObject({ code: 'ERR_NPUSER_UNAVAILABLE' });
    expect(String((error as Error).cause)).toMatch(/ECONNREFUSED/);
    for (const text of reachableStrings(error)) expect(text).not.toContain(key);
    expect(JSON.stringify(leaky)).not.toContain(key);
    const badKey = (() => {
      try {
        return new NpUserClient({ baseUrl: 'https://npuser.example', apiKey: `${key}!` });
      } catch (err) {
        return err;
      }
    })();
    expect(badKey).toBeInstanceOf(TypeError);
    expect((badKey as Error).message).not.toContain(key);
  });

  it('refuses plain http to another host, credentials in the URL and bad arguments, as NpUser does', async () => {
    const apiKey = `npu_sk_${'A'.repeat(43)}`;
    expect(() => new NpUserClient({ baseUrl: 'http://npuser.example', apiKey })).toThrow(/must be https: unless it is this machine/);
    expect(() => new NpUserClient({ baseUrl: 'https://user:pass@npuser.example', apiKey })).toThrow(/must not hold credentials/);
    expect(() => new NpUserClient({ baseUrl: 'ftp://npuser.example', apiKey })).toThrow(/baseUrl must be an http\(s\) URL/);
    expect(() => new NpUserClient({ baseUrl: 'https://npuser.example', apiKey, timeoutMs: 0 })).toThrow(/timeoutMs must be an integer/);
    expect(() => new NpUserClient({ baseUrl: 'http://localhost:8080', apiKey })).not.toThrow();
    const client = new NpUserClient({ baseUrl: 'https://npuser.example', apiKey, fetch: () => Promise.reject(new Error('not called')) });
    const local = new NpUser({ secret: 'a local secret, at least thirty-two bytes', mailer: memoryMailer() });
    for (const auth of [client, local] as NpUserApi[]) {
      await expect(auth.requestCode(42 as never)).rejects.toThrow(new TypeError('npuser: email must be a string'));
      await expect(auth.verifyCode(EMAIL, 42 as never)).rejects.toThrow(new TypeError('npuser: code must be a string'));
      await expect(auth.requestCode(EMAIL, { locale: 'not a locale!' })).rejects.toThrow(TypeError);
      await expect(auth.validateToken('x', { maxTokenAgeSeconds: -1 })).rejects.toThrow(TypeError);
    }
  });

  it('keeps a path prefix of baseUrl', async () => {
    const s = serviceSetup();
    const seen: string[] = [];
    const client = new NpUserClient({
      baseUrl: 'https://gateway.example/npuser',
      apiKey: s.keys.blog,
      fetch: (input, init) => {
        const url = new URL(input instanceof Request ? input.url : input);
        seen.push(url.pathname);
        return s.service(new Request(BASE + url.pathname.replace(/^\/npuser/, ''), init));
      },
    });
    await client.requestCode(EMAIL);
    expect(seen).toEqual(['/npuser/v1/request-code']);
  });
});

describe('npuser/client, built', () => {
  it.each(['client/index.js', 'client/index.cjs'])('%s imports no Node.js built-in, nor anything else', (file) => {
    assertBuilt([file]);
    const specifiers = [...bareSpecifiers(join(DIST, file))];
    const builtins = specifiers.filter((s) => s.startsWith('node:') || builtinModules.includes(s));
    expect(builtins).toEqual([]);
    expect(specifiers).toEqual([]);
  });
});
