import { NP_USER_ERROR_CODES, NpUserError, type NpUserErrorCode, isNpUserError } from '../errors.js';
import { booleanOption, functionOption, optionError, optionsObject } from '../lib/checks.js';
import { canonicalEmail } from '../lib/email.js';
import type { NpUserApi, RefreshTokenResult, TokenClaims } from '../types.js';
import { fields, readBody } from './body.js';
import { clientKeyOf, connectionAddress, forwardedAddress } from './client-address.js';
import { COOKIE_NAME, clearCookie, readCookie, setCookie } from './cookies.js';
import { PROBLEM_STATUS, type ProblemLocale, negotiateLocale, newRequestId, problemResponse, problemTitle } from './problem.js';
import { textResponse } from './response.js';

const WHO = 'createSignInHandler';

/**
 * What {@link createSignInHandler} needs: the calls of `NpUserApi`, and,
 * when present, `refreshToken` (for sliding renewal) and `revokeSubject`
 * (for `POST {basePath}/sign-out-everywhere`). `NpUser` has all six.
 *
 * @example
 * ```ts
 * import { NpUser } from 'npuser';
 * import type { SignInBackend } from 'npuser/http';
 * const backend: SignInBackend = new NpUser({ secret: process.env.NPUSER_SECRET! });
 * ```
 */
export interface SignInBackend extends NpUserApi {
  /** A new token for the same sign-in; see `NpUser.refreshToken`. Without it, sessions are not renewed. */
  refreshToken?(token: string): Promise<RefreshTokenResult>;
  /** Refuse every token of a subject issued until now; see `NpUser.revokeSubject`. Without it, there is no sign-out everywhere. */
  revokeSubject?(subject: string): Promise<void>;
}

/**
 * Options of {@link createSignInHandler}. All are optional.
 *
 * @example
 * ```ts
 * import type { SignInHandlerOptions } from 'npuser/http';
 * const options: SignInHandlerOptions = { basePath: '/auth', signInPage: '/login', redirectTo: '/account', trustProxy: 1 };
 * ```
 */
export interface SignInHandlerOptions {
  /** Where the routes live: `{basePath}/code`, `/verify`, `/session`, `/sign-out`, `/sign-out-everywhere`. @default '/auth' */
  readonly basePath?: string | undefined;
  /**
   * The app's sign-in page, where a form post comes back to (303) with what
   * happened in the query (`?npuser=sent`, `?npuser=error&code=…`); read it
   * with `getPageState`. A path on this site.
   * @default '/'
   */
  readonly signInPage?: string | undefined;
  /** Where a form sign-in lands once the code was right. A path on this site. @default '/' */
  readonly redirectTo?: string | undefined;
  /**
   * The session cookie's name; the pending sign-in's cookie is this name
   * with `_pending` after it. A `__Host-` prefix (with `secureCookie`)
   * keeps other subdomains from setting it.
   * @default 'npuser_session'
   */
  readonly cookieName?: string | undefined;
  /**
   * Whether the cookies are `Secure` (sent over HTTPS only).
   * @default true, except for a request to localhost (`localhost`, `*.localhost`, `127.0.0.1`, `[::1]`)
   */
  readonly secureCookie?: boolean | undefined;
  /**
   * How many proxies in front of the app append the address they saw to
   * `X-Forwarded-For` (`true` is one). The client's address is then read that
   * many entries from the right; without it the header is ignored, since any
   * client can send one.
   * @default false (the connection's address)
   */
  readonly trustProxy?: boolean | number | undefined;
  /**
   * Where the client key comes from, instead of the connection and
   * `X-Forwarded-For`: e.g. `(request) => request.headers.get('cf-connecting-ip') ?? undefined`
   * on Cloudflare. An IP address is canonicalised (IPv6 by its /64); any
   * other string is used as it is; `undefined` means "no per-client limits".
   * @default undefined
   */
  readonly clientKey?: ((request: Request) => string | undefined) | undefined;
  /**
   * Other origins whose pages may post to the routes (`https://www.example.com`);
   * the app's own origin always may. Every other cross-site POST is refused.
   * @default []
   */
  readonly trustedOrigins?: readonly string[] | undefined;
  /** Re-issue a token past half its life on use (sliding renewal), up to the NpUser's `maxSessionSeconds`. @default true */
  readonly renew?: boolean | undefined;
  /** The clock, in milliseconds since the epoch: give the NpUser's. @default Date.now */
  readonly now?: (() => number) | undefined;
}

/**
 * The signed-in user, as {@link SignInHandler.getSession} returns it.
 *
 * @example
 * ```ts
 * import type { SignInSession } from 'npuser/http';
 * const session: SignInSession | null = await signIn.getSession(request);
 * const response = new Response('Hello');
 * if (session?.setCookie !== undefined) response.headers.append('set-cookie', session.setCookie);
 * ```
 */
export interface SignInSession {
  /** The user's stable id in this app: the token's pairwise `sub`. */
  readonly subject: string;
  /** When the session's token expires (the renewed one's, when it was renewed). */
  readonly expiresAt: Date;
  /** When the token that came with the request was issued. */
  readonly issuedAt: Date;
  /** When the user typed the code: the sign-in this session belongs to. */
  readonly authenticatedAt: Date;
  /** Every claim of the token that came with the request. */
  readonly claims: TokenClaims;
  /**
   * A `Set-Cookie` value when this use renewed the session: send it with
   * your response (`res.append('set-cookie', session.setCookie)`), or the
   * browser keeps the old token until it expires.
   */
  readonly setCookie: string | undefined;
}

/**
 * What a sign-in page shows, as {@link SignInHandler.getPageState} reads it
 * from the query a form post came back with and the pending sign-in's cookie:
 * at step `email`, ask for an address; at step `code`, a code was sent to
 * `email`, ask for it.
 *
 * @example
 * ```ts
 * import type { SignInPageState } from 'npuser/http';
 * const state: SignInPageState = signIn.getPageState(request);
 * const html = state.step === 'code' ? `Code sent to ${escape(state.email)}` : 'Your address:';
 * ```
 */
export type SignInPageState = SignInPageCommon &
  (
    | {
        /** Ask for an address: no code is pending in this browser. */
        readonly step: 'email';
        /** No address yet. */
        readonly email: undefined;
        /** No code yet. */
        readonly codeSentAt: undefined;
        /** No code yet. */
        readonly codeExpiresAt: undefined;
      }
    | {
        /** Ask for the code sent to `email`. */
        readonly step: 'code';
        /** The canonical address the pending code was sent to. */
        readonly email: string;
        /** When the pending code was sent (for a resend cooldown). */
        readonly codeSentAt: Date;
        /** When the pending code stops working. */
        readonly codeExpiresAt: Date;
      }
  );

/**
 * What a sign-in page shows at either step; see {@link SignInPageState}.
 *
 * @example
 * ```ts
 * import type { SignInPageCommon } from 'npuser/http';
 * const { error, notice }: SignInPageCommon = signIn.getPageState(request);
 * ```
 */
export interface SignInPageCommon {
  /** What just happened, if anything. */
  readonly notice: 'code-sent' | 'signed-out' | 'signed-out-everywhere' | undefined;
  /** What just failed, if anything. */
  readonly error: SignInPageError | undefined;
  /** The language of `error.title`, negotiated from `Accept-Language`. */
  readonly locale: ProblemLocale;
}

/**
 * What failed when a form came back to the sign-in page: part of {@link SignInPageState}.
 *
 * @example
 * ```ts
 * import type { SignInPageError } from 'npuser/http';
 * const { error } = signIn.getPageState(request);
 * const message: string | undefined = error && (error.retryAfterSeconds ? `${error.title} (${error.retryAfterSeconds} s)` : error.title);
 * ```
 */
export interface SignInPageError {
  /** The stable `ERR_NPUSER_*` code, to choose your own words by. */
  readonly code: NpUserErrorCode;
  /** The code's fixed title, in the page state's `locale`: safe to show as it is. */
  readonly title: string;
  /** Seconds left before a retry can succeed, counted from now, when the code has a wait. */
  readonly retryAfterSeconds: number | undefined;
}

/**
 * Headers as `getSession` and `getPageState` take them: web `Headers`, or
 * Node.js's (and Express's, and Fastify's) `req.headers`.
 *
 * @example
 * ```ts
 * import type { HeaderSource } from 'npuser/http';
 * const headers: HeaderSource = { cookie: 'npuser_session=…', host: 'app.example' };
 * ```
 */
export type HeaderSource = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * What {@link SignInHandler.getSession} reads the cookie from: a `Request`,
 * its `Headers`, Node.js's or Fastify's `req.headers`, or an object holding
 * them (an Express or Fastify `req`).
 *
 * @example
 * ```ts
 * import type { SessionSource } from 'npuser/http';
 * const source: SessionSource = req.headers; // or the Request, or req itself
 * ```
 */
export type SessionSource =
  | Request
  | HeaderSource
  | {
      /** The request's headers. */
      readonly headers: HeaderSource;
    };

/**
 * What {@link SignInHandler.getPageState} reads: a `Request`, or anything
 * with the request's `url` (a path with its query is enough) and `headers`
 * (an Express or Fastify `req`).
 *
 * @example
 * ```ts
 * import type { PageStateSource } from 'npuser/http';
 * const source: PageStateSource = { url: req.url, headers: req.headers };
 * ```
 */
export type PageStateSource =
  | Request
  | {
      /** The request's URL: its path and query are enough. */
      readonly url?: string | undefined;
      /** The request's headers. */
      readonly headers: HeaderSource;
    };

/**
 * The sign-in routes, made by {@link createSignInHandler}.
 *
 * @example
 * ```ts
 * import { createSignInHandler, toNodeHandler } from 'npuser/http';
 * const signIn = createSignInHandler(np);
 * const listener = toNodeHandler(signIn.fetch); // node:http and Express; Bun and Deno take signIn.fetch as it is
 * const response = await signIn.fetch(request, { remoteAddress: '203.0.113.5' }); // anywhere else
 * ```
 */
export interface SignInHandler {
  /** Where the routes live, as given (or `/auth`), without a trailing slash. */
  readonly basePath: string;
  /**
   * Answer one request to the routes: web-standard, so Bun, Deno and Hono
   * mount it as it is. `connection` is the platform's second argument, as
   * the platform passes it (see {@link SignInConnection} for the shapes it
   * reads): the client's address, for the per-client limits.
   * Every `NpUserError` becomes an answer (JSON problem, or for a form a 303
   * back to the sign-in page); anything else (a `TypeError` for a handler
   * that cannot tell the client's address, an error of your `onSignIn`)
   * rejects, for your framework to report.
   */
  readonly fetch: (request: Request, connection?: unknown) => Promise<Response>;
  /**
   * The signed-in user of a request, renewed when its token is past half
   * its life, or `null` for no, a forged, an expired, a revoked or another
   * app's cookie. Rejects with `ERR_NPUSER_STORE_FAILED` when the revocation
   * list cannot be read (over `NpUserClient`, `ERR_NPUSER_UNAVAILABLE` when
   * the service cannot be reached): an outage is not a stranger.
   */
  readonly getSession: (source: SessionSource) => Promise<SignInSession | null>;
  /** What the sign-in page should show for this request. */
  readonly getPageState: (source: PageStateSource) => SignInPageState;
}

const ROUTES: Readonly<Record<string, readonly string[]>> = {
  '/code': ['POST'],
  '/verify': ['POST'],
  '/session': ['GET'],
  '/sign-out': ['POST'],
  '/sign-out-everywhere': ['POST'],
};

const EMAIL_RULE = { type: 'string', maxLength: 512 } as const;
const OPTIONAL_EMAIL_RULE = { ...EMAIL_RULE, optional: true } as const;
const CODE_RULE = { type: 'string', maxLength: 64 } as const;
const LOCALE_RULE = { type: 'string', optional: true, maxLength: 64 } as const;
const MAX_CLIENT_KEY_LENGTH = 512;
/** The `Retry-After` of a 503 whose end nobody knows (the store is down). */
const OUTAGE_RETRY_SECONDS = 5;

/** One request on its way through the routes. */
interface Exchange {
  readonly request: Request;
  readonly connection: unknown;
  readonly url: URL;
  readonly requestId: string;
  readonly locale: ProblemLocale;
  /** The body is an HTML form: answers are 303 redirects. */
  readonly form: boolean;
  readonly secure: boolean;
}

/**
 * The sign-in routes an app mounts so a browser can sign in, with the
 * token in an HttpOnly cookie:
 *
 * | route | body | answer |
 * |---|---|---|
 * | `POST {basePath}/code` | `{ email, locale? }`, JSON or a form | 200 `{ email, expiresAt }`; a form: 303 to `signInPage?npuser=sent` |
 * | `POST {basePath}/verify` | `{ email, code }` (a form may leave out `email`: the pending sign-in's is used) | 200 `{ subject, expiresAt }` and the cookie; a form: 303 to `redirectTo` |
 * | `GET {basePath}/session` | — | 200 `{ subject, expiresAt, authenticatedAt }`, renewed past half-life; or 401 |
 * | `POST {basePath}/sign-out` | — | revokes the token, clears the cookie: 200 `{ signedOut: true }`; a form: 303 |
 * | `POST {basePath}/sign-out-everywhere` | — | `revokeSubject` for the signed-in user, then as sign-out |
 *
 * Errors are RFC 9457 problems with localised titles (`Accept-Language`:
 * en, fr, de, es, pt); for a form, a 303 to `signInPage?npuser=error&code=…`.
 * Cross-site POSTs are refused (403) by `Sec-Fetch-Site`, else `Origin`.
 * The cookie is HttpOnly, `SameSite=Lax`, `Path=/`, `Secure` except on localhost.
 *
 * @param np - The `NpUser` (or any {@link SignInBackend}).
 * @param options - See {@link SignInHandlerOptions}.
 * @throws TypeError when `np` lacks a call or an option is malformed.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { NpUser } from 'npuser';
 * import { createSignInHandler, toNodeHandler } from 'npuser/http';
 *
 * const np = new NpUser({ secret: process.env.NPUSER_SECRET! });
 * const signIn = createSignInHandler(np, { basePath: '/auth' });
 * const app = express();
 * app.use('/auth', toNodeHandler(signIn.fetch));
 * app.get('/account', async (req, res) => {
 *   const session = await signIn.getSession(req);
 *   if (!session) return res.redirect('/');
 *   if (session.setCookie) res.append('set-cookie', session.setCookie);
 *   res.send(`Hello ${session.subject}`);
 * });
 * ```
 */
export function createSignInHandler(np: SignInBackend, options?: SignInHandlerOptions): SignInHandler {
  for (const method of ['requestCode', 'verifyCode', 'validateToken', 'revokeToken'] as const) {
    if (typeof (np as Partial<SignInBackend> | undefined)?.[method] !== 'function') {
      throw new TypeError(`npuser: ${WHO}(np) needs an NpUser (or an NpUserApi): ${method} is missing`);
    }
  }
  const o = optionsObject<SignInHandlerOptions>(WHO, options, {});
  const basePath = pathOption('basePath', o.basePath, '/auth', true);
  const signInPage = pathOption('signInPage', o.signInPage, '/', false);
  const redirectTo = pathOption('redirectTo', o.redirectTo, '/', false);
  const cookieName = cookieNameOption(o.cookieName);
  const pendingName = `${cookieName}_pending`;
  const secureOption = o.secureCookie === undefined ? undefined : booleanOption(WHO, 'secureCookie', o.secureCookie, true);
  const hops = trustProxyOption(o.trustProxy);
  const customClientKey = functionOption<(request: Request) => unknown>(WHO, 'clientKey', o.clientKey);
  const trustedOrigins = originsOption(o.trustedOrigins);
  const renew = booleanOption(WHO, 'renew', o.renew, true);
  const clock = functionOption<() => unknown>(WHO, 'now', o.now) ?? Date.now;
  const refresh = typeof np.refreshToken === 'function' && renew ? np.refreshToken.bind(np) : undefined;
  const revokeSubject = typeof np.revokeSubject === 'function' ? np.revokeSubject.bind(np) : undefined;

  const now = (): number => {
    const value = clock();
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw new TypeError(`npuser: ${WHO} options.now must return milliseconds since the epoch`);
    return value;
  };

  const secureFor = (host: string | null): boolean => secureOption ?? !isLocalhost(host);

  // ----- answers -----

  const baseHeaders = (x: Exchange, cookies: readonly string[]): Headers => {
    const headers = new Headers({ 'cache-control': 'no-store', 'x-request-id': x.requestId });
    for (const cookie of cookies) headers.append('set-cookie', cookie);
    return headers;
  };

  const json = (x: Exchange, body: unknown, cookies: readonly string[] = []): Response => {
    const headers = baseHeaders(x, cookies);
    headers.set('content-type', 'application/json; charset=utf-8');
    return textResponse(x.request, JSON.stringify(body), { status: 200, headers });
  };

  const redirect = (x: Exchange, location: string, cookies: readonly string[] = []): Response => {
    const headers = baseHeaders(x, cookies);
    headers.set('location', location);
    return new Response(null, { status: 303, headers });
  };

  const problem = (
    x: Exchange,
    code: NpUserErrorCode,
    extra: { retryAfterSeconds?: number | undefined; headers?: Record<string, string>; cookies?: readonly string[] } = {},
  ): Response => {
    const response = problemResponse(code, {
      requestId: x.requestId,
      locale: x.locale,
      retryAfterSeconds: extra.retryAfterSeconds,
      headers: extra.headers,
      request: x.request,
    });
    for (const cookie of extra.cookies ?? []) response.headers.append('set-cookie', cookie);
    return response;
  };

  const pageUrl = (params: Record<string, string>): string => {
    const url = new URL(signInPage, 'http://page.invalid');
    for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
    return `${url.pathname}${url.search}`;
  };

  /** An NpUserError as the answer: a problem, or for a form a 303 back to the sign-in page. */
  const failure = (x: Exchange, err: NpUserError, cookies: readonly string[] = []): Response => {
    // A 503 always says when to come back; an outage's end is unknown, so a short wait.
    const retryAfterSeconds = err.retryAfterSeconds ?? (PROBLEM_STATUS[err.code] === 503 ? OUTAGE_RETRY_SECONDS : undefined);
    if (!x.form) return problem(x, err.code, { retryAfterSeconds, cookies });
    const params: Record<string, string> = { npuser: 'error', code: err.code };
    // An absolute second, so a reload shows the wait that is left.
    if (retryAfterSeconds !== undefined) params.retryAt = String(Math.floor(now() / 1000 + retryAfterSeconds));
    return redirect(x, pageUrl(params), cookies);
  };

  const sessionCookie = (secure: boolean, token: string, expiresAt: Date): string =>
    setCookie(cookieName, token, { secure, maxAgeSeconds: (expiresAt.getTime() - now()) / 1000 });

  // ----- the client key -----

  const clientKeyFor = (x: Exchange): string | undefined => {
    if (customClientKey !== undefined) {
      const value = customClientKey(x.request);
      if (value === undefined) return undefined;
      if (typeof value !== 'string' || value.length === 0 || value.length > MAX_CLIENT_KEY_LENGTH) {
        throw new TypeError(
          `npuser: ${WHO} options.clientKey must return undefined or a string of 1 to ${MAX_CLIENT_KEY_LENGTH} characters`,
        );
      }
      return clientKeyOf(value) ?? value;
    }
    const direct = connectionAddress(x.connection, x.request);
    const address = hops === 0 ? direct : forwardedAddress(x.request.headers.get('x-forwarded-for'), direct, hops);
    if (address === undefined) {
      throw new TypeError(
        `npuser: ${WHO} cannot tell the client's address for its per-client limits. Mount fetch with toNodeHandler() or ` +
          'fastifySignIn, pass the platform\u2019s second argument (Deno\u2019s info, Bun\u2019s server, Hono\u2019s c.env) or ' +
          '{ remoteAddress }, set options.trustProxy behind a proxy, or options.clientKey (returning undefined turns the limits off)',
      );
    }
    const key = clientKeyOf(address);
    // A proxy's header that is not an address is a malformed request; a connection's is used as it is.
    if (key === undefined && address !== direct) throw new NpUserError('ERR_NPUSER_BAD_REQUEST');
    return key ?? address;
  };

  // ----- the pending sign-in (which address a code went to) -----

  const readPending = (cookieHeader: string | null): Pending | undefined => {
    const pending = parsePending(readCookie(cookieHeader, pendingName));
    return pending !== undefined && pending.expiresAt > now() ? pending : undefined;
  };

  const pendingCookie = (secure: boolean, email: string, expiresAt: Date): string => {
    const sentAt = Math.floor(now() / 1000);
    const value = `${encodeURIComponent(email)}:${sentAt}:${Math.floor(expiresAt.getTime() / 1000)}`;
    return setCookie(pendingName, value, { secure, maxAgeSeconds: (expiresAt.getTime() - now()) / 1000 });
  };

  // ----- sessions -----

  const sessionOf = async (token: string, secure: boolean): Promise<SignInSession> => {
    const current = await np.validateToken(token);
    const issued = current.issuedAt.getTime();
    const expires = current.expiresAt.getTime();
    let expiresAt = current.expiresAt;
    let renewed: string | undefined;
    if (refresh !== undefined && now() >= issued + (expires - issued) / 2) {
      try {
        const next = await refresh(token);
        // At `maxSessionSeconds` a refresh cannot outlive the token it replaces: nothing to send.
        if (next.expiresAt.getTime() > expires) {
          expiresAt = next.expiresAt;
          renewed = sessionCookie(secure, next.token, next.expiresAt);
        }
      } catch (err) {
        // The session has reached maxSessionSeconds, or the store hiccuped: the
        // token just validated stays good until it expires.
        if (!isNpUserError(err, 'ERR_NPUSER_TOKEN_EXPIRED') && !isNpUserError(err, 'ERR_NPUSER_STORE_FAILED')) throw err;
      }
    }
    return {
      subject: current.subject,
      expiresAt,
      issuedAt: current.issuedAt,
      authenticatedAt: current.authenticatedAt,
      claims: current.claims,
      setCookie: renewed,
    };
  };

  /** The session of a cookie header, or null for a missing, invalid or expired token. */
  const sessionFromCookies = async (cookieHeader: string | null, secure: boolean): Promise<SignInSession | null> => {
    const token = readCookie(cookieHeader, cookieName);
    if (token === undefined || token === '') return null;
    try {
      return await sessionOf(token, secure);
    } catch (err) {
      if (isNpUserError(err, 'ERR_NPUSER_INVALID_TOKEN') || isNpUserError(err, 'ERR_NPUSER_TOKEN_EXPIRED')) return null;
      throw err;
    }
  };

  // ----- the routes -----

  const requestCode = async (x: Exchange): Promise<Response> => {
    const body = await readBody(x.request, ['json', 'form']);
    const { email, locale } = fields(body, { email: EMAIL_RULE, locale: LOCALE_RULE });
    const address = required(email);
    const mailLocale = locale === undefined ? preferredLocale(x.request.headers.get('accept-language')) : canonicalLocale(locale);
    const clientKey = clientKeyFor(x);
    const pending = x.form ? readPending(x.request.headers.get('cookie')) : undefined;
    try {
      const sent = await np.requestCode(address, { clientKey, locale: mailLocale });
      if (!x.form) return json(x, { email: sent.email, expiresAt: sent.expiresAt.toISOString() });
      return redirect(x, pageUrl({ npuser: 'sent' }), [pendingCookie(x.secure, sent.email, sent.expiresAt)]);
    } catch (err) {
      if (!x.form || !isNpUserError(err)) throw err;
      // A refused resend keeps the code form for the address whose code may still work;
      // a refused new address leaves that form, so the page does not show the old address.
      const sameAddress = pending !== undefined && pending.email === canonicalOrUndefined(address);
      return failure(x, err, pending === undefined || sameAddress ? [] : [clearCookie(pendingName, x.secure)]);
    }
  };

  const verifyCode = async (x: Exchange): Promise<Response> => {
    const body = await readBody(x.request, ['json', 'form']);
    const { email, code } = fields(body, { email: OPTIONAL_EMAIL_RULE, code: CODE_RULE });
    const pending = readPending(x.request.headers.get('cookie'));
    const address = email ?? pending?.email;
    // A form whose pending sign-in has gone has outlived its code (they last as long).
    if (address === undefined) throw new NpUserError(x.form ? 'ERR_NPUSER_INVALID_CODE' : 'ERR_NPUSER_BAD_REQUEST');
    const verified = await np.verifyCode(address, required(code), { clientKey: clientKeyFor(x) });
    const cookies = [
      sessionCookie(x.secure, verified.token, verified.expiresAt),
      ...(pending === undefined ? [] : [clearCookie(pendingName, x.secure)]),
    ];
    if (x.form) return redirect(x, redirectTo, cookies);
    return json(x, { subject: verified.subject, expiresAt: verified.expiresAt.toISOString() }, cookies);
  };

  const session = async (x: Exchange): Promise<Response> => {
    const token = readCookie(x.request.headers.get('cookie'), cookieName);
    if (token === undefined || token === '') return problem(x, 'ERR_NPUSER_INVALID_TOKEN');
    let found: SignInSession;
    try {
      found = await sessionOf(token, x.secure);
    } catch (err) {
      if (!isNpUserError(err, 'ERR_NPUSER_INVALID_TOKEN') && !isNpUserError(err, 'ERR_NPUSER_TOKEN_EXPIRED')) throw err;
      // A cookie that will never work again is cleared; "expired" and "invalid" stay apart for the page.
      return problem(x, err.code, { cookies: [clearCookie(cookieName, x.secure)] });
    }
    return json(
      x,
      { subject: found.subject, expiresAt: found.expiresAt.toISOString(), authenticatedAt: found.authenticatedAt.toISOString() },
      found.setCookie === undefined ? [] : [found.setCookie],
    );
  };

  const signOut = async (x: Exchange): Promise<Response> => {
    await discardBody(x.request);
    const token = readCookie(x.request.headers.get('cookie'), cookieName);
    const cleared = [clearCookie(cookieName, x.secure)];
    if (token !== undefined && token !== '') {
      try {
        // Revoked, not only forgotten: a copy of the cookie stops working too.
        await np.revokeToken(token);
      } catch (err) {
        if (!isNpUserError(err)) throw err;
        // Not one of ours, nothing to revoke; but a store outage is said, the cookie cleared all the same.
        if (err.code !== 'ERR_NPUSER_INVALID_TOKEN') return failure(x, err, cleared);
      }
    }
    return x.form ? redirect(x, pageUrl({ npuser: 'signed-out' }), cleared) : json(x, { signedOut: true }, cleared);
  };

  const signOutEverywhere = async (x: Exchange): Promise<Response> => {
    if (revokeSubject === undefined) return problem(x, 'ERR_NPUSER_NOT_FOUND');
    await discardBody(x.request);
    const token = readCookie(x.request.headers.get('cookie'), cookieName) ?? '';
    // Only a valid session can sign its subject out everywhere.
    const current = token === '' ? undefined : await np.validateToken(token);
    if (current === undefined) throw new NpUserError('ERR_NPUSER_INVALID_TOKEN');
    await revokeSubject(current.subject);
    const cleared = [clearCookie(cookieName, x.secure)];
    return x.form ? redirect(x, pageUrl({ npuser: 'signed-out-everywhere' }), cleared) : json(x, { signedOut: true }, cleared);
  };

  const handlers: Readonly<Record<string, (x: Exchange) => Promise<Response>>> = {
    '/code': requestCode,
    '/verify': verifyCode,
    '/session': session,
    '/sign-out': signOut,
    '/sign-out-everywhere': signOutEverywhere,
  };

  const fetch = async (request: Request, connection?: unknown): Promise<Response> => {
    const url = new URL(request.url);
    const x: Exchange = {
      request,
      connection,
      url,
      requestId: newRequestId(),
      locale: negotiateLocale(request.headers.get('accept-language')),
      form: isForm(request.headers.get('content-type')),
      secure: secureFor(url.host),
    };
    const route = url.pathname.startsWith(`${basePath}/`) ? url.pathname.slice(basePath.length) : undefined;
    const methods = route === undefined || !Object.hasOwn(ROUTES, route) ? undefined : ROUTES[route];
    const handler = route === undefined ? undefined : handlers[route];
    if (methods === undefined || handler === undefined) return problem(x, 'ERR_NPUSER_NOT_FOUND');
    if (!methods.includes(request.method)) return problem(x, 'ERR_NPUSER_METHOD_NOT_ALLOWED', { headers: { allow: methods.join(', ') } });
    if (request.method === 'POST' && isCrossSite(request.headers, url, trustedOrigins)) return problem(x, 'ERR_NPUSER_FORBIDDEN');
    try {
      return await handler(x);
    } catch (err) {
      if (!isNpUserError(err)) throw err;
      return failure(x, err);
    }
  };

  const getSession = async (source: SessionSource): Promise<SignInSession | null> => {
    const headers = headersOf(source);
    const host = source instanceof Request ? new URL(source.url).host : headers.get('host');
    return sessionFromCookies(headers.get('cookie'), secureFor(host));
  };

  const getPageState = (source: PageStateSource): SignInPageState => {
    const headers = headersOf(source);
    const locale = negotiateLocale(headers.get('accept-language'));
    let params: URLSearchParams;
    try {
      params = new URL(source.url ?? '/', 'http://page.invalid').searchParams;
    } catch {
      params = new URLSearchParams();
    }
    const pending = readPending(headers.get('cookie'));
    const what = params.get('npuser');
    const code = params.get('code');
    let error: SignInPageCommon['error'];
    if (what === 'error' && isErrorCode(code)) {
      const retryAt = params.get('retryAt');
      const retryAfterSeconds =
        retryAt !== null && /^[0-9]{1,12}$/.test(retryAt) ? Math.max(0, Math.ceil(Number(retryAt) - now() / 1000)) : undefined;
      error = { code, title: problemTitle(code, locale), retryAfterSeconds };
    }
    const common: SignInPageCommon = {
      notice: what === 'sent' ? 'code-sent' : what === 'signed-out' || what === 'signed-out-everywhere' ? what : undefined,
      error,
      locale,
    };
    if (pending === undefined) return { ...common, step: 'email', email: undefined, codeSentAt: undefined, codeExpiresAt: undefined };
    return {
      ...common,
      step: 'code',
      email: pending.email,
      codeSentAt: new Date(pending.sentAt),
      codeExpiresAt: new Date(pending.expiresAt),
    };
  };

  return Object.freeze({ basePath, fetch, getSession, getPageState });
}

// ----- helpers -----

interface Pending {
  readonly email: string;
  /** Milliseconds since the epoch. */
  readonly sentAt: number;
  readonly expiresAt: number;
}

// What npuser writes: `<address, percent-encoded>:<sent, s>:<expires, s>`. A
// browser may hand back anything, so anything else is no pending sign-in.
function parsePending(value: string | undefined): Pending | undefined {
  const match = value === undefined ? null : /^([^:]{3,800}):([0-9]{1,12}):([0-9]{1,12})$/.exec(value);
  if (match === null) return undefined;
  let email: string;
  try {
    email = decodeURIComponent(match[1] ?? '');
  } catch {
    return undefined;
  }
  // Shown on a page and passed to verifyCode: an address's shape, nothing that could be markup or two addresses.
  if (email.length > 254 || !/^[^\s@"<>()[\]\\,;]+@[^\s@"<>()[\]\\,;]+$/.test(email)) return undefined;
  return { email, sentAt: Number(match[2]) * 1000, expiresAt: Number(match[3]) * 1000 };
}

/** The address as npuser keys it (punycode domain included), or undefined for one it refuses. */
function canonicalOrUndefined(address: string): string | undefined {
  try {
    return canonicalEmail(address);
  } catch {
    return undefined;
  }
}

function required(value: string | undefined): string {
  // `fields()` has already refused a missing required field.
  if (value === undefined) throw new NpUserError('ERR_NPUSER_BAD_REQUEST');
  return value;
}

function isErrorCode(code: string | null): code is NpUserErrorCode {
  return code !== null && (NP_USER_ERROR_CODES as readonly string[]).includes(code);
}

function isForm(contentType: string | null): boolean {
  return contentType?.split(';', 1)[0]?.trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

/** A body the route does not read: of an accepted type (or none), and left unread. */
async function discardBody(request: Request): Promise<void> {
  const type = request.headers.get('content-type')?.split(';', 1)[0]?.trim().toLowerCase();
  if (type !== undefined && type !== '' && type !== 'application/json' && type !== 'application/x-www-form-urlencoded') {
    throw new NpUserError('ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE');
  }
  await request.body?.cancel().catch(() => undefined);
}

/**
 * Go's `http.CrossOriginProtection` rule: a trusted `Origin` passes; else
 * `Sec-Fetch-Site`, when the browser sends it, must be `same-origin` (or
 * `none`, the user's own navigation); else an `Origin` must have the
 * request's own host. A request with neither header is not from a browser
 * (curl, a server) and passes: there is no victim's cookie to ride on.
 */
function isCrossSite(headers: Headers, url: URL, trusted: ReadonlySet<string>): boolean {
  const origin = headers.get('origin');
  if (origin !== null && trusted.has(origin)) return false;
  const site = headers.get('sec-fetch-site');
  if (site !== null) return site !== 'same-origin' && site !== 'none';
  if (origin === null) return false;
  try {
    return new URL(origin).host !== url.host;
  } catch {
    // `Origin: null` (a sandboxed frame, a privacy redirect) is no origin of ours.
    return true;
  }
}

function isLocalhost(host: string | null): boolean {
  if (host === null) return false;
  const name = host.replace(/:[0-9]+$/, '').toLowerCase();
  return name === 'localhost' || name.endsWith('.localhost') || name === '[::1]' || /^127\.[0-9]+\.[0-9]+\.[0-9]+$/.test(name);
}

function headersOf(source: SessionSource | PageStateSource): Headers {
  if (source instanceof Request || source instanceof Headers) return source instanceof Request ? source.headers : source;
  const holder = source as { headers?: unknown };
  const record = (typeof holder.headers === 'object' && holder.headers !== null ? holder.headers : source) as HeaderSource;
  if (record instanceof Headers) return record;
  const headers = new Headers();
  for (const [name, value] of Object.entries(record)) {
    // HTTP/2 pseudo-headers (`:authority`) are not headers.
    if (name.startsWith(':') || value === undefined) continue;
    try {
      if (typeof value === 'string') headers.append(name, value);
      else for (const item of value) headers.append(name, item);
    } catch {
      // A header the platform would never have let through is not ours to read.
    }
  }
  return headers;
}

/** The highest-ranked language of `Accept-Language` as a BCP 47 tag, for the mail; `undefined` when none is usable. */
function preferredLocale(acceptLanguage: string | null): string | undefined {
  if (acceptLanguage === null || acceptLanguage.length > 1024) return undefined;
  let best: { tag: string; q: number } | undefined;
  for (const part of acceptLanguage.split(',')) {
    const [tag = '', ...params] = part.trim().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (tag.trim() === '*' || !Number.isFinite(q) || q <= 0 || q > 1) continue;
    const canonical = safeLocale(tag.trim());
    if (canonical !== undefined && (best === undefined || q > best.q)) best = { tag: canonical, q };
  }
  return best?.tag;
}

function safeLocale(tag: string): string | undefined {
  if (tag === '' || tag.length > 35) return undefined;
  try {
    return Intl.getCanonicalLocales(tag)[0];
  } catch {
    return undefined;
  }
}

function canonicalLocale(tag: string): string {
  const canonical = safeLocale(tag);
  if (canonical === undefined) throw new NpUserError('ERR_NPUSER_BAD_REQUEST');
  return canonical;
}

// ----- option checks -----

function pathOption(name: string, value: unknown, fallback: string, base: boolean): string {
  if (value === undefined) return fallback;
  // A path on this site: one leading slash (never `//host`, never a scheme), no query for a base.
  const shape = base ? /^(\/[A-Za-z0-9\-._~!$&'()*+,;=:@%]+)*\/?$/ : /^\/(?!\/)[^\s\\]*$/;
  if (typeof value !== 'string' || !shape.test(value) || value.includes('#')) {
    throw optionError(WHO, name, base ? "must be a path such as '/auth'" : "must be a path on this site such as '/'");
  }
  return base ? value.replace(/\/+$/, '') : value;
}

function cookieNameOption(value: unknown): string {
  if (value === undefined) return 'npuser_session';
  if (typeof value !== 'string' || !COOKIE_NAME.test(value) || value.length > 64) {
    throw optionError(WHO, 'cookieName', "must be a cookie name (letters, digits and !#$%&'*+-.^_`|~, at most 64)");
  }
  return value;
}

function trustProxyOption(value: unknown): number {
  if (value === undefined || value === false) return 0;
  if (value === true) return 1;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 10) {
    throw optionError(WHO, 'trustProxy', 'must be a boolean or the number of proxies, from 0 to 10');
  }
  return value;
}

function originsOption(value: unknown): ReadonlySet<string> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value)) throw optionError(WHO, 'trustedOrigins', "must be an array of origins such as 'https://www.example.com'");
  const origins = new Set<string>();
  for (const item of value as unknown[]) {
    let origin: string | undefined;
    try {
      origin = typeof item === 'string' ? new URL(item).origin : undefined;
    } catch {
      origin = undefined;
    }
    if (origin === undefined || origin === 'null' || origin !== item) {
      throw optionError(
        WHO,
        'trustedOrigins',
        "must be an array of origins such as 'https://www.example.com' (scheme, host and port only)",
      );
    }
    origins.add(origin);
  }
  return origins;
}
