import { Validator } from '@seriousme/openapi-schema-validator';
import { describe, expect, it } from 'vitest';
import { NP_USER_ERROR_CODES, memoryCodeStore, type CodeStore, type NpUserErrorCode } from 'npuser';
import { testClock } from '../support/helpers.js';
import { BASE, apiKey, call, post, serviceSetup, type Answer } from '../support/service.js';

// /openapi.json is generated from the route table the handler dispatches on.
// These tests hold the two together from the outside: the document is valid
// OpenAPI 3.1, every operation it lists is served, and every problem code it
// lists for an operation is one the handler really answers there, with the
// documented status (each provoked below), and no other.

interface Operation {
  operationId: string;
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { content?: Record<string, { schema?: { allOf?: [unknown, { properties: { code: { enum: string[] } } }] } }> }>;
}
type Document = { paths: Record<string, Record<string, Operation>>; openapi: string };

const EMAIL = 'ada@example.com';

async function documentOf(): Promise<Document> {
  const s = serviceSetup();
  const answer = await call(s.service, new Request(`${BASE}/openapi.json`));
  expect(answer.status).toBe(200);
  return answer.body as unknown as Document;
}

/** Each documented code of an operation, with its status. */
function documentedCodes(operation: Operation): Map<string, number> {
  const codes = new Map<string, number>();
  for (const [status, response] of Object.entries(operation.responses)) {
    const listed = response.content?.['application/problem+json']?.schema?.allOf?.[1].properties.code.enum ?? [];
    for (const code of listed) codes.set(code, Number(status));
  }
  return codes;
}

/** The content type a route reads: a form for introspection (RFC 7662), JSON for every other. */
const contentTypeOf = (path: string) => (path === '/v1/introspect' ? 'application/x-www-form-urlencoded' : 'application/json');

/** A valid request for each operation (with the key, where it needs one). */
function validRequest(path: string, method: string, key: string, headers: Record<string, string> = {}): Request {
  const url = BASE + path.replace('{appId}', 'blog');
  if (method === 'get') return new Request(url, { headers });
  if (path === '/v1/introspect') return post(path, 'token=x', key, { 'content-type': contentTypeOf(path), ...headers });
  const bodies: Record<string, unknown> = {
    '/v1/request-code': { email: EMAIL },
    '/v1/verify-code': { email: EMAIL, code: '123456' },
    '/v1/validate-token': { token: 'x' },
    '/v1/revoke-token': { token: 'x' },
  };
  return post(path, bodies[path], key, headers);
}

function failingStore(): { store: CodeStore; fail: () => void } {
  const inner = memoryCodeStore();
  let down = false;
  const guard =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    (...args: A) =>
      down ? Promise.reject(new Error('down')) : fn(...args);
  return {
    store: {
      set: guard(inner.set.bind(inner)),
      get: guard(inner.get.bind(inner)),
      consume: guard(inner.consume.bind(inner)),
      delete: guard(inner.delete.bind(inner)),
      increment: guard(inner.increment.bind(inner)),
    },
    fail: () => (down = true),
  };
}

/** How to make the handler answer `code` at `path`: one way per code. */
const provoke: Record<NpUserErrorCode, (path: string, method: string) => Promise<Answer>> = {
  ERR_NPUSER_BAD_REQUEST: async (path) => {
    const s = serviceSetup();
    return call(
      s.service,
      post(path, path === '/v1/introspect' ? 'token=a&token=b' : '{"unknown": 1}', s.keys.blog, { 'content-type': contentTypeOf(path) }),
    );
  },
  ERR_NPUSER_UNAUTHENTICATED: async (path, method) => call(serviceSetup().service, validRequest(path, method, apiKey().key)),
  ERR_NPUSER_FORBIDDEN: async (path, method) => {
    const s = serviceSetup();
    return call(s.service, validRequest(path, method, s.keys.blog, { origin: 'https://app.example' }));
  },
  ERR_NPUSER_NOT_FOUND: async (path) => call(serviceSetup().service, new Request(BASE + path.replace('{appId}', 'nobody'))),
  ERR_NPUSER_METHOD_NOT_ALLOWED: async (path, method) =>
    call(serviceSetup().service, new Request(BASE + path, { method: method === 'get' ? 'POST' : 'GET' })),
  ERR_NPUSER_PAYLOAD_TOO_LARGE: async (path) => {
    const s = serviceSetup();
    return call(s.service, post(path, 'x'.repeat(9000), s.keys.blog, { 'content-type': contentTypeOf(path) }));
  },
  ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE: async (path) => {
    const s = serviceSetup();
    return call(s.service, post(path, 'x', s.keys.blog, { 'content-type': 'text/plain' }));
  },
  ERR_NPUSER_RATE_LIMITED: async (path, method) => {
    const s = serviceSetup({ quota: { requests: 1 } });
    await call(s.service, validRequest(path, method, s.keys.blog));
    return call(s.service, validRequest(path, method, s.keys.blog));
  },
  ERR_NPUSER_STORE_FAILED: async (path, method) => {
    const { store, fail } = failingStore();
    const s = serviceSetup({ store });
    fail();
    return call(s.service, validRequest(path, method, s.keys.blog));
  },
  ERR_NPUSER_UNAVAILABLE: async (path, method) => {
    const s = serviceSetup();
    s.service.drain();
    return call(s.service, validRequest(path, method, s.keys.blog));
  },
  ERR_NPUSER_INTERNAL: async (path, method) => {
    const clock = testClock();
    let broken = false;
    const s = serviceSetup({ now: () => (broken ? Number.NaN : clock.now()) }, clock);
    // A pending code, so that verify-code gets as far as reading the (broken) clock.
    await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog));
    broken = true;
    if (path === '/v1/verify-code') return call(s.service, post(path, { email: EMAIL, code: s.mailer.lastCodeFor(EMAIL) }, s.keys.blog));
    return call(s.service, validRequest(path, method, s.keys.blog));
  },
  ERR_NPUSER_INVALID_EMAIL: async (path) => {
    const s = serviceSetup();
    return call(s.service, post(path, { email: 'not an address', ...(path === '/v1/verify-code' ? { code: '123456' } : {}) }, s.keys.blog));
  },
  ERR_NPUSER_INVALID_CODE: async (path) => {
    const s = serviceSetup();
    return call(s.service, post(path, { email: EMAIL, code: '123456' }, s.keys.blog));
  },
  ERR_NPUSER_TOO_MANY_ATTEMPTS: async (path) => {
    const s = serviceSetup();
    await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog));
    let last: Answer | undefined;
    for (let i = 0; i < 5; i += 1) last = await call(s.service, post(path, { email: EMAIL, code: '000000' }, s.keys.blog));
    return last!;
  },
  ERR_NPUSER_ADDRESS_LOCKED: async (path) => {
    const s = serviceSetup();
    // The core's default budget: 100 failures a day lock the address, 5 per code sent, a code an hour.
    for (let i = 0; i < 20; i += 1) {
      s.clock.advance(3_600_000);
      await call(s.service, post('/v1/request-code', { email: EMAIL }, s.keys.blog));
      for (let j = 0; j < 5; j += 1) await call(s.service, post('/v1/verify-code', { email: EMAIL, code: '000000' }, s.keys.blog));
    }
    return call(s.service, post(path, { email: EMAIL, ...(path === '/v1/verify-code' ? { code: '000000' } : {}) }, s.keys.blog));
  },
  ERR_NPUSER_MAILER_FAILED: async (path) => {
    const s = serviceSetup();
    s.mailer.failNextSend();
    return call(s.service, post(path, { email: EMAIL }, s.keys.blog));
  },
  // Never answered by the service: the core throws these from validateToken, and the service answers `active: false`.
  ERR_NPUSER_INVALID_TOKEN: () => Promise.reject(new Error('not an HTTP answer')),
  ERR_NPUSER_TOKEN_EXPIRED: () => Promise.reject(new Error('not an HTTP answer')),
};

describe('/openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const document = await documentOf();
    expect(document.openapi).toBe('3.1.0');
    const result = await new Validator().validate(document);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
  });

  it('lists operations the handler serves, and the handler serves no operation it does not list', async () => {
    const document = await documentOf();
    const s = serviceSetup();
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const method of Object.keys(methods)) {
        const answer = await call(s.service, validRequest(path, method, s.keys.blog));
        // A valid request, though not always a right one (a made-up code is a 422): documented, never a 404 or 405.
        expect([404, 405], `${method} ${path}`).not.toContain(answer.status);
        expect(Object.keys(methods[method]!.responses), `${method} ${path}`).toContain(String(answer.status));
      }
      // Every other method is a 405, not an undocumented operation.
      for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].filter((m) => !(m.toLowerCase() in methods))) {
        expect((await call(s.service, new Request(BASE + path.replace('{appId}', 'blog'), { method }))).status, `${method} ${path}`).toBe(
          405,
        );
      }
    }
  });

  it('documents every error code of each operation that the handler answers there, with its status', async () => {
    const document = await documentOf();
    let checked = 0;
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        for (const [code, status] of documentedCodes(operation)) {
          expect(NP_USER_ERROR_CODES).toContain(code);
          const answer = await provoke[code as NpUserErrorCode](path, method);
          expect([answer.status, answer.body.code], `${code} at ${method} ${path}`).toEqual([status, code]);
          checked += 1;
        }
      }
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('lists, for each operation, every code the handler can be made to answer there', async () => {
    const document = await documentOf();
    const notDocumented: string[] = [];
    for (const [path, methods] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        const documented = documentedCodes(operation);
        for (const code of NP_USER_ERROR_CODES) {
          // 405 is about the path, not the operation: documented once for all.
          if (documented.has(code) || code === 'ERR_NPUSER_METHOD_NOT_ALLOWED') continue;
          const answer = await provoke[code](path, method).catch(() => undefined);
          if (answer?.body.code === code) notDocumented.push(`${code} at ${method} ${path}`);
        }
      }
    }
    expect(notDocumented).toEqual([]);
  });
});
