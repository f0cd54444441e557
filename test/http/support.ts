// The sign-in handler on a hand-moved clock, called with `new Request(…)`: no port, no process.
import type { NpUserOptions, RequestContext } from 'npuser';
import { createSignInHandler, type SignInBackend, type SignInHandler, type SignInHandlerOptions } from 'npuser/http';
import { EMAIL, setup, type Setup } from '../support/helpers.js';

export const SITE = 'https://app.example';
/** The connection every request comes from unless a test says otherwise. */
export const CONNECTION = { remoteAddress: '203.0.113.5' } as const;

export interface HandlerSetup extends Setup {
  signIn: SignInHandler;
  /** The context of every requestCode and verifyCode call, in order. */
  contexts: { call: 'requestCode' | 'verifyCode'; context: RequestContext | undefined }[];
}

/** An NpUser (see `setup`), a backend that records the contexts it is called with, and the handler over it. */
export function handlerSetup(options: SignInHandlerOptions = {}, npOptions: Partial<NpUserOptions> = {}): HandlerSetup {
  const s = setup(npOptions);
  const contexts: HandlerSetup['contexts'] = [];
  const np = s.np;
  const backend: SignInBackend = {
    requestCode: (email, context) => {
      contexts.push({ call: 'requestCode', context });
      return np.requestCode(email, context);
    },
    verifyCode: (email, code, context) => {
      contexts.push({ call: 'verifyCode', context });
      return np.verifyCode(email, code, context);
    },
    validateToken: (token, o) => np.validateToken(token, o),
    revokeToken: (token) => np.revokeToken(token),
    refreshToken: (token) => np.refreshToken(token),
    revokeSubject: (subject) => np.revokeSubject(subject),
  };
  const signIn = createSignInHandler(backend, { now: s.clock.now, ...options });
  return { ...s, signIn, contexts };
}

export interface PostOptions {
  /** Send an HTML form (application/x-www-form-urlencoded) instead of JSON. */
  form?: boolean;
  headers?: Record<string, string>;
  site?: string;
}

/** A same-origin POST, as a browser on the app's own page sends it. */
export function post(
  path: string,
  body: Record<string, string> | string | undefined,
  { form = false, headers = {}, site = SITE }: PostOptions = {},
): Request {
  const encoded =
    body === undefined || typeof body === 'string' ? body : form ? new URLSearchParams(body).toString() : JSON.stringify(body);
  return new Request(`${site}${path}`, {
    method: 'POST',
    headers: {
      ...(body === undefined ? {} : { 'content-type': form ? 'application/x-www-form-urlencoded' : 'application/json' }),
      'sec-fetch-site': 'same-origin',
      ...headers,
    },
    ...(encoded === undefined ? {} : { body: encoded }),
  });
}

export function get(path: string, headers: Record<string, string> = {}, site = SITE): Request {
  return new Request(`${site}${path}`, { headers });
}

/** The cookies a response sets, by name: value and attributes. */
export function setCookies(response: Response): Map<string, { value: string; attributes: string[] }> {
  const cookies = new Map<string, { value: string; attributes: string[] }>();
  for (const line of response.headers.getSetCookie()) {
    const [pair = '', ...attributes] = line.split(';').map((part) => part.trim());
    const eq = pair.indexOf('=');
    cookies.set(pair.slice(0, eq), { value: pair.slice(eq + 1), attributes });
  }
  return cookies;
}

/** A `Cookie` header carrying what `response` set (deleted cookies left out). */
export function cookieHeader(...responses: Response[]): string {
  const jar = new Map<string, string>();
  for (const response of responses) {
    for (const [name, { value, attributes }] of setCookies(response)) {
      if (attributes.includes('Max-Age=0')) jar.delete(name);
      else jar.set(name, value);
    }
  }
  return [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
}

/** Request a code and sign in through the handler's JSON routes; returns the cookie header of the session. */
export async function signInThrough(h: HandlerSetup, email = EMAIL): Promise<string> {
  const requested = await h.signIn.fetch(post('/auth/code', { email }), CONNECTION);
  if (requested.status !== 200) throw new Error(`request-code answered ${requested.status}`);
  const code = h.mailer.lastCodeFor(email);
  if (code === undefined) throw new Error('no code was mailed');
  const verified = await h.signIn.fetch(post('/auth/verify', { email, code }), CONNECTION);
  if (verified.status !== 200) throw new Error(`verify answered ${verified.status}`);
  return cookieHeader(verified);
}
