// Sessions that last: sliding renewal past half a token's life, up to maxSessionSeconds,
// on the handler with an injected clock; getSession from every kind of request; who may sign in.
import { describe, expect, it } from 'vitest';
import { memoryCodeStore, type CodeStore, type StoreStep } from 'npuser';
import { EMAIL } from '../support/helpers.js';
import { CONNECTION, cookieHeader, get, handlerSetup, post, setCookies, signInThrough } from './support.js';

const HOUR = 3_600_000;

describe('sliding renewal', () => {
  it('a token before half its life is not renewed; past it, GET /session re-issues it with a fresh lifetime', async () => {
    const h = handlerSetup();
    const cookie = await signInThrough(h);
    const signedInAt = h.clock.now();

    h.clock.advance(HOUR / 2 - 1000);
    const early = await h.signIn.fetch(get('/auth/session', { cookie }));
    expect(early.status).toBe(200);
    expect(early.headers.getSetCookie()).toEqual([]);

    h.clock.advance(1000);
    const late = await h.signIn.fetch(get('/auth/session', { cookie }));
    const renewed = setCookies(late).get('npuser_session')!;
    expect(renewed.attributes).toEqual(['Path=/', 'Max-Age=3600', 'HttpOnly', 'SameSite=Lax', 'Secure']);
    expect(renewed.value).not.toBe(cookie.replace('npuser_session=', ''));
    const body = (await late.json()) as { expiresAt: string; authenticatedAt: string };
    expect(body.expiresAt).toBe(new Date(h.clock.now() + HOUR).toISOString());
    // The same sign-in, not a new one.
    expect(body.authenticatedAt).toBe(new Date(signedInAt).toISOString());
    const validated = await h.np.validateToken(renewed.value);
    expect(validated.authenticatedAt.getTime()).toBe(signedInAt);
  });

  it('getSession renews too, handing the Set-Cookie to the app; renew: false turns it off', async () => {
    const h = handlerSetup();
    const cookie = await signInThrough(h);
    h.clock.advance(HOUR * 0.75);
    const session = await h.signIn.getSession(get('/account', { cookie }));
    expect(session?.setCookie).toMatch(/^npuser_session=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; Max-Age=3600; /);
    expect(session?.expiresAt.getTime()).toBe(h.clock.now() + HOUR);

    const fixed = handlerSetup({ renew: false });
    const fixedCookie = await signInThrough(fixed);
    fixed.clock.advance(HOUR * 0.75);
    const kept = await fixed.signIn.getSession(get('/account', { cookie: fixedCookie }));
    expect(kept?.setCookie).toBeUndefined();
    expect(kept?.expiresAt.getTime()).toBe(fixed.clock.now() + HOUR / 4);
  });

  it('a user who keeps coming back stays signed in up to maxSessionSeconds, and not a second longer', async () => {
    const h = handlerSetup({}, { tokenTtlSeconds: 3600, maxSessionSeconds: 4 * 3600, clockToleranceSeconds: 0 });
    let cookie = await signInThrough(h);
    const signedInAt = h.clock.now();
    const expiries: number[] = [];
    // A visit every 40 minutes: each past half the token's life, each within it.
    for (let visit = 0; visit < 8; visit += 1) {
      h.clock.advance(40 * 60_000);
      const response = await h.signIn.fetch(get('/auth/session', { cookie }));
      if (response.status !== 200) break;
      expiries.push(Date.parse(((await response.json()) as { expiresAt: string }).expiresAt));
      if (response.headers.getSetCookie().length > 0) cookie = cookieHeader(response);
    }
    const end = signedInAt + 4 * HOUR;
    expect(Math.max(...expiries)).toBe(end);
    expect(expiries.every((at) => at <= end)).toBe(true);
    h.clock.advance(end - h.clock.now());
    const after = await h.signIn.fetch(get('/auth/session', { cookie }));
    expect(after.status).toBe(401);
  });

  it('a user who stays away longer than a token’s life is signed out', async () => {
    const h = handlerSetup({}, { clockToleranceSeconds: 0 });
    const cookie = await signInThrough(h);
    h.clock.advance(HOUR + 1000);
    expect(await h.signIn.getSession(get('/', { cookie }))).toBeNull();
  });

  it('a renewal the store cannot make keeps the current session (it was just validated)', async () => {
    const h = handlerSetup();
    const cookie = await signInThrough(h);
    h.clock.advance(HOUR * 0.75);
    let reads = 0;
    const transact = h.store.transact.bind(h.store);
    // The validation's read works; the refresh's own validation finds the store gone.
    h.store.transact = (steps) => (reads++ < 1 ? transact(steps) : Promise.reject(new Error('blip')));
    const session = await h.signIn.getSession(get('/', { cookie }));
    expect(reads).toBeGreaterThan(1);
    expect(session).toMatchObject({ setCookie: undefined });
  });
});

describe('getSession reads the cookie from', () => {
  it('a Request, Headers, Node.js’s req.headers, or an object holding them; any other cookie name is no session', async () => {
    const h = handlerSetup();
    const cookie = await signInThrough(h);
    const sources = [
      get('/', { cookie }),
      new Headers({ cookie }),
      { cookie, host: 'app.example' },
      { headers: { cookie: [cookie], host: 'app.example', ':authority': 'app.example' } },
      { headers: new Headers({ cookie }) },
    ];
    const subjects = await Promise.all(sources.map(async (source) => (await h.signIn.getSession(source))?.subject));
    expect(new Set(subjects).size).toBe(1);
    expect(subjects[0]).toMatch(/^[\w-]{43}$/);
    expect(await h.signIn.getSession({ cookie: cookie.replace('npuser_session', 'session') })).toBeNull();
    expect(await h.signIn.getSession({})).toBeNull();
  });
});

describe('getPageState', () => {
  it('ignores what a query cannot mean: unknown codes, a malformed wait, a tampered pending cookie', () => {
    const h = handlerSetup();
    expect(h.signIn.getPageState(get('/?npuser=error&code=ERR_NOT_OURS'))).toMatchObject({
      step: 'email',
      error: undefined,
      notice: undefined,
    });
    expect(h.signIn.getPageState({ url: '/?npuser=error&code=ERR_NPUSER_INVALID_CODE&retryAt=soon', headers: {} }).error).toEqual({
      code: 'ERR_NPUSER_INVALID_CODE',
      title: 'This code is not valid. It may be wrong, expired or already used.',
      retryAfterSeconds: undefined,
    });
    for (const value of ['x', '%E0%A4%A:1:2', `${encodeURIComponent('<b>@x')}:1:99999999999`, `${encodeURIComponent('a@b')}:1`]) {
      expect(h.signIn.getPageState({ url: '/', headers: { cookie: `npuser_session_pending=${value}` } }).step, value).toBe('email');
    }
  });

  it('the pending sign-in ends with its code', async () => {
    const h = handlerSetup();
    const sent = await h.signIn.fetch(post('/auth/code', { email: EMAIL }, { form: true }), CONNECTION);
    expect(h.signIn.getPageState(get('/', { cookie: cookieHeader(sent) })).step).toBe('code');
    h.clock.advance(600_000);
    expect(h.signIn.getPageState(get('/', { cookie: cookieHeader(sent) })).step).toBe('email');
  });
});

function headerNames(response: Response): string[] {
  const names: string[] = [];
  response.headers.forEach((_value, name) => void names.push(name));
  return names.sort();
}

/** A store that records the shape of each step: the operation and the kind of key (its tag left out). */
function shapeRecorder(inner: CodeStore): { store: CodeStore; shapes: string[] } {
  const shapes: string[] = [];
  const kind = (key: string) => key.replace(/^\{[^}]*\}/, '{…}');
  const record = (steps: readonly StoreStep[]) => {
    for (const step of steps) shapes.push(`${step.op} ${kind(step.key)}${'ttlMs' in step ? ` ${step.ttlMs}` : ''}`);
  };
  const store: CodeStore = {
    set: (key, value, ttlMs) => (record([{ op: 'set', key, value, ttlMs }]), inner.set(key, value, ttlMs)),
    get: (key) => (record([{ op: 'get', key }]), inner.get(key)),
    consume: (key, expected) => (record([{ op: 'consume', key }]), inner.consume(key, expected)),
    delete: (key) => (record([{ op: 'delete', key }]), inner.delete(key)),
    increment: (key, ttlMs) => (record([{ op: 'increment', key, ttlMs }]), inner.increment(key, ttlMs)),
  };
  const transact = inner.transact?.bind(inner);
  if (transact !== undefined) store.transact = (steps) => (record(steps), transact(steps));
  return { store, shapes };
}

describe('who may sign in (allowEmail), seen from outside', () => {
  async function attempt(email: string) {
    const recorder = shapeRecorder(memoryCodeStore());
    const h = handlerSetup({}, { store: recorder.store, allowEmail: (address) => address === EMAIL });
    const response = await h.signIn.fetch(post('/auth/code', { email }, { form: true }), CONNECTION);
    const pending = setCookies(response).get('npuser_session_pending');
    return {
      status: response.status,
      location: response.headers.get('location'),
      headers: headerNames(response),
      // The cookie names the address the user typed, so only its shape can be compared.
      pending: pending?.value.replace(/^[^:]+/, '<address>'),
      pendingAttributes: pending?.attributes,
      shapes: recorder.shapes,
      mailed: h.mailer.messages.length,
    };
  }

  it('a refused address gets the same answer, the same cookie and the same store work as an allowed one, and no mail', async () => {
    const allowed = await attempt(EMAIL);
    const refused = await attempt('eve@example.com');
    expect(allowed.mailed).toBe(1);
    expect(refused.mailed).toBe(0);
    expect({ ...refused, mailed: undefined }).toEqual({ ...allowed, mailed: undefined });
    expect(allowed.shapes.length).toBeGreaterThan(3);
  });

  it('and a refused address’s code never signs in', async () => {
    const h = handlerSetup({}, { allowEmail: () => false });
    await h.signIn.fetch(post('/auth/code', { email: EMAIL }), CONNECTION);
    const response = await h.signIn.fetch(post('/auth/verify', { email: EMAIL, code: '000000' }), CONNECTION);
    expect(response.status).toBe(422);
  });
});
