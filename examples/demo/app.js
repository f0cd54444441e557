// @ts-check
// The demo as a plain node:http request handler. It does not listen: server.js
// does, and the tests mount it on their own server with their own NpUser.
import { readFileSync } from 'node:fs';
import { isNpUserError } from 'npuser';
import { codePage, humanDuration, messagePage, signInPage, signedInPage } from './pages.js';

/** @typedef {import('node:http').IncomingMessage} IncomingMessage */
/** @typedef {import('node:http').ServerResponse} ServerResponse */
/** @typedef {import('npuser').NpUser} NpUser */
/** @typedef {import('npuser').NpUserError} NpUserError */
/** @typedef {import('npuser').ValidateTokenResult} ValidateTokenResult */
/** @typedef {(req: IncomingMessage, res: ServerResponse) => void} RequestListener */

/** The cookie that carries the session token. */
export const SESSION_COOKIE = 'npuser_session';

/** The largest form body accepted, in bytes. */
export const MAX_BODY_BYTES = 10 * 1024;

// Past the limit a body is drained (so the client can read the 413) up to this
// much more, then the connection is cut.
const MAX_DRAIN_BYTES = 1024 * 1024;

/** Sent with every response, whatever its status. */
export const SECURITY_HEADERS = Object.freeze({
  'Content-Security-Policy':
    "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
});

const STYLE_CSS = readFileSync(new URL('./style.css', import.meta.url));

/** Which methods each known path answers, for 405 and `Allow`. */
const ROUTES = Object.freeze({
  '/': ['GET', 'HEAD'],
  '/style.css': ['GET', 'HEAD'],
  '/me': ['GET', 'HEAD'],
  '/request': ['POST'],
  '/code': ['POST'],
  '/verify': ['POST'],
  '/logout': ['POST'],
});

/** A response decided before the normal flow could run (bad body, wrong method…). */
class HttpError extends Error {
  /**
   * @param {number} status
   * @param {string} title
   * @param {string} message
   * @param {Record<string, string>} [headers]
   */
  constructor(status, title, message, headers = {}) {
    super(message);
    this.status = status;
    this.title = title;
    this.headers = headers;
  }
}

/**
 * @typedef {object} DemoAppOptions
 * @property {NpUser} np The NpUser that does the work.
 * @property {(err: unknown) => void} [onUnexpectedError] Told about errors that
 * became a 500 page. Defaults to `console.error`.
 * @property {import('./pages.js').Delivery} [delivery] How codes reach the visitor,
 * for the pages' wording: `'console'` (default) or `'email'` (SMTP_URL).
 */

/**
 * Create the demo's request handler.
 *
 * @param {DemoAppOptions} options
 * @returns {RequestListener}
 *
 * @example
 * ```js
 * import { createServer } from 'node:http';
 * import { NpUser } from 'npuser';
 * const np = new NpUser({ secret: process.env.NPUSER_SECRET });
 * createServer(createDemoApp({ np })).listen(3000);
 * ```
 */
export function createDemoApp({ np, onUnexpectedError = logUnexpectedError, delivery = 'console' }) {
  return function demoApp(req, res) {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    // Nothing escapes this catch: no unhandled rejection, whatever the input.
    route(req, res).catch((/** @type {unknown} */ err) => {
      if (err instanceof HttpError) {
        sendPage(res, err.status, messagePage({ title: err.title, message: err.message }), err.headers);
        return;
      }
      try {
        onUnexpectedError(err);
      } catch {
        // A failing logger must not take the response down with it.
      }
      sendPage(
        res,
        500,
        messagePage({ title: 'Something went wrong', message: 'The demo hit an unexpected error. Please try again.' }),
      );
    });
  };

  /**
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   */
  async function route(req, res) {
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const method = req.method ?? 'GET';
    const allowed = Object.hasOwn(ROUTES, path) ? ROUTES[/** @type {keyof typeof ROUTES} */ (path)] : undefined;
    if (allowed === undefined) {
      throw new HttpError(404, 'Page not found', 'There is nothing at this address.');
    }
    if (!allowed.includes(method)) {
      throw new HttpError(405, 'Method not allowed', `This page does not accept ${method} requests.`, {
        Allow: allowed.join(', '),
      });
    }
    if (method === 'POST') refuseCrossSite(req);

    switch (path) {
      case '/style.css':
        send(res, 200, STYLE_CSS, { 'Content-Type': 'text/css; charset=utf-8' });
        return;
      case '/': {
        const session = await readSession(req);
        if (session.state === 'valid') {
          redirect(res, '/me');
          return;
        }
        const notice = session.state === 'expired' ? 'Your session has ended. Sign in again.' : undefined;
        sendPage(res, 200, signInPage(notice === undefined ? { delivery } : { notice, delivery }), session.state === 'none' ? {} : clearCookie());
        return;
      }
      case '/request':
        await requestCode(req, res);
        return;
      case '/code': {
        // "I already have a code": show the code form for an address, touching nothing.
        const form = await readForm(req);
        sendPage(res, 200, codePage({ email: field(form, 'email'), delivery }));
        return;
      }
      case '/verify':
        await verifyCode(req, res);
        return;
      case '/me': {
        const session = await readSession(req);
        if (session.state !== 'valid') {
          redirect(res, '/', session.state === 'none' ? {} : clearCookie());
          return;
        }
        const { subject, expiresAt } = session.result;
        sendPage(res, 200, signedInPage({ subject, expiresInSeconds: secondsUntil(expiresAt) }));
        return;
      }
      case '/logout': {
        await readForm(req);
        // Revoked, not only forgotten: a copy of the token stops working too.
        // If it cannot be revoked (already invalid, expired, store down), the browser still forgets it.
        const token = readCookie(req.headers.cookie, SESSION_COOKIE);
        if (token !== undefined) await np.revokeToken(token).catch(() => undefined);
        redirect(res, '/', clearCookie());
        return;
      }
    }
  }

  /**
   * POST /request: mail a code (here: print it), then ask for it.
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   */
  async function requestCode(req, res) {
    const form = await readForm(req);
    const email = field(form, 'email').trim();
    const resend = field(form, 'resend') === '1';
    try {
      // Show and carry the canonical address: it is the one the code was sent to.
      const sent = await np.requestCode(email, { clientKey: clientKey(req), ...preferredLocale(req) });
      sendPage(res, 200, codePage({ email: sent.email, expiresInSeconds: secondsUntil(sent.expiresAt), delivery }));
    } catch (err) {
      if (!isNpUserError(err)) throw err;
      const { status, message, headers } = describeError(err);
      // A refused resend keeps the visitor on the code form: the last code may still work.
      const page = resend
        ? codePage({ email, error: message, delivery })
        : signInPage({ email, error: message, offerCodeEntry: err.code === 'ERR_NPUSER_RATE_LIMITED', delivery });
      sendPage(res, status, page, headers);
    }
  }

  /**
   * POST /verify: check the code, set the session cookie, go to /me.
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   */
  async function verifyCode(req, res) {
    const form = await readForm(req);
    const email = field(form, 'email').trim();
    const code = field(form, 'code');
    try {
      const { token, expiresAt } = await np.verifyCode(email, code, { clientKey: clientKey(req) });
      // Add `Secure` when the app is served over HTTPS (it is not, on localhost).
      const cookie = `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Lax; Path=/; Max-Age=${secondsUntil(expiresAt)}`;
      redirect(res, '/me', { 'Set-Cookie': cookie });
    } catch (err) {
      if (!isNpUserError(err)) throw err;
      const { status, message, headers } = describeError(err);
      const page =
        err.code === 'ERR_NPUSER_INVALID_EMAIL' ? signInPage({ email, error: message, delivery }) : codePage({ email, error: message, delivery });
      sendPage(res, status, page, headers);
    }
  }

  /**
   * The session in the request's cookie, if any.
   * @param {IncomingMessage} req
   * @returns {Promise<{ state: 'none' } | { state: 'invalid' | 'expired' } | { state: 'valid', result: ValidateTokenResult }>}
   */
  async function readSession(req) {
    const token = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (token === undefined || token === '') return { state: 'none' };
    try {
      return { state: 'valid', result: await np.validateToken(token) };
    } catch (err) {
      if (isNpUserError(err, 'ERR_NPUSER_TOKEN_EXPIRED')) return { state: 'expired' };
      if (isNpUserError(err)) return { state: 'invalid' };
      throw err;
    }
  }
}

/** @param {unknown} err */
function logUnexpectedError(err) {
  console.error('npuser demo: unexpected error:', err);
}

/**
 * Plain words for an NpUserError, with the HTTP status that fits.
 * @param {NpUserError} err
 * @returns {{ status: number, message: string, headers: Record<string, string> }}
 */
export function describeError(err) {
  switch (err.code) {
    case 'ERR_NPUSER_INVALID_EMAIL':
      return { status: 400, message: 'That doesn’t look like an email address. Please check it and try again.', headers: {} };
    case 'ERR_NPUSER_INVALID_CODE':
      return {
        status: 401,
        message: 'That code isn’t right, or it has expired or already been used. Check the code and try again, or ask for a new one.',
        headers: {},
      };
    case 'ERR_NPUSER_TOO_MANY_ATTEMPTS':
      return {
        status: 429,
        message: 'Too many wrong attempts: that code no longer works. Ask for a new code.',
        headers: {},
      };
    case 'ERR_NPUSER_ADDRESS_LOCKED': {
      const seconds = err.retryAfterSeconds ?? 3600;
      return {
        status: 429,
        message: `Too many failed sign-ins for this address. It is locked for ${humanDuration(seconds)}.`,
        headers: { 'Retry-After': String(seconds) },
      };
    }
    case 'ERR_NPUSER_RATE_LIMITED': {
      const seconds = err.retryAfterSeconds ?? 60;
      return {
        status: 429,
        message: `Too many requests. Please wait ${humanDuration(seconds)} and try again. A code you already received still works until it expires.`,
        headers: { 'Retry-After': String(seconds) },
      };
    }
    case 'ERR_NPUSER_MAILER_FAILED':
      return { status: 503, message: 'We couldn’t send the code just now. Please try again in a moment.', headers: {} };
    case 'ERR_NPUSER_STORE_FAILED':
      return { status: 503, message: 'Sign-in is unavailable just now. Please try again in a moment.', headers: {} };
    case 'ERR_NPUSER_INVALID_TOKEN':
    case 'ERR_NPUSER_TOKEN_EXPIRED':
      return { status: 401, message: 'Your session is no longer valid. Please sign in again.', headers: {} };
    default:
      // The list of codes only grows; a code this demo does not know yet still gets a page.
      return { status: 500, message: 'Something went wrong. Please try again.', headers: {} };
  }
}

/**
 * Refuse form posts another site makes the browser send (login CSRF). Modern
 * browsers send `Sec-Fetch-Site`; `Origin` is no help here because
 * `Referrer-Policy: no-referrer` makes it `null`. Clients without the header
 * (curl, old browsers) are let through.
 * @param {IncomingMessage} req
 */
function refuseCrossSite(req) {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw new HttpError(403, 'Request refused', 'This form can only be sent from the demo’s own pages.');
  }
}

/**
 * Read an urlencoded form body of at most {@link MAX_BODY_BYTES}.
 * @param {IncomingMessage} req
 * @returns {Promise<URLSearchParams>}
 */
async function readForm(req) {
  const type = (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    req.resume();
    throw new HttpError(415, 'Unsupported form', 'This page only accepts an HTML form (application/x-www-form-urlencoded).');
  }
  const body = await readBody(req, MAX_BODY_BYTES);
  return new URLSearchParams(body.toString('utf8'));
}

/**
 * @param {IncomingMessage} req
 * @param {number} limit
 * @returns {Promise<Buffer>}
 */
function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const tooLarge = () => {
      let drained = 0;
      req.removeAllListeners('data');
      // Keep reading (and dropping) for a while so the client gets to read
      // the 413 instead of a reset connection; past that, hang up.
      req.on('data', (/** @type {Buffer} */ chunk) => {
        drained += chunk.length;
        if (drained > MAX_DRAIN_BYTES) req.socket.destroy();
      });
      reject(
        new HttpError(413, 'Too much data', `A form here is never larger than ${MAX_BODY_BYTES / 1024} KB.`, {
          Connection: 'close',
        }),
      );
    };
    const declared = Number(req.headers['content-length']);
    if (declared > limit) {
      tooLarge();
      return;
    }
    /** @type {Buffer[]} */
    const chunks = [];
    let size = 0;
    req.on('data', (/** @type {Buffer} */ chunk) => {
      size += chunk.length;
      if (size > limit) tooLarge();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      resolve(Buffer.concat(chunks));
    });
    req.on('error', () => {
      reject(new HttpError(400, 'Request interrupted', 'The request did not arrive in full.'));
    });
  });
}

/**
 * The first value of a form field, or '' (never `null`: npuser wants strings).
 * @param {URLSearchParams} form
 * @param {string} name
 */
function field(form, name) {
  return form.get(name) ?? '';
}

/**
 * What npuser counts per-client limits against: the peer address.
 * (Behind a reverse proxy, use the address the proxy reports instead.)
 * @param {IncomingMessage} req
 */
function clientKey(req) {
  return req.socket.remoteAddress ?? 'unknown';
}

/**
 * The browser's first language (Accept-Language), so the mail comes in it;
 * nothing when the header is missing or not a valid BCP 47 tag.
 * @param {IncomingMessage} req
 * @returns {{ locale?: string }}
 */
function preferredLocale(req) {
  const first = (req.headers['accept-language'] ?? '').split(',')[0]?.split(';')[0]?.trim() ?? '';
  if (first === '' || first === '*' || first.length > 35) return {};
  try {
    const [locale] = Intl.getCanonicalLocales(first);
    return locale === undefined ? {} : { locale };
  } catch {
    return {};
  }
}

/**
 * @param {string | undefined} header
 * @param {string} name
 * @returns {string | undefined}
 */
export function readCookie(header, name) {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function clearCookie() {
  return { 'Set-Cookie': `${SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0` };
}

/** @param {Date} date */
function secondsUntil(date) {
  return Math.max(0, Math.floor((date.getTime() - Date.now()) / 1000));
}

/**
 * @param {ServerResponse} res
 * @param {string} location
 * @param {Record<string, string>} [headers]
 */
function redirect(res, location, headers = {}) {
  send(res, 303, '', { Location: location, ...headers });
}

/**
 * @param {ServerResponse} res
 * @param {number} status
 * @param {string} page
 * @param {Record<string, string>} [headers]
 */
function sendPage(res, status, page, headers = {}) {
  send(res, status, page, { 'Content-Type': 'text/html; charset=utf-8', ...headers });
}

/**
 * @param {ServerResponse} res
 * @param {number} status
 * @param {string | Buffer} body
 * @param {Record<string, string>} headers
 */
function send(res, status, body, headers) {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'Content-Length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}
