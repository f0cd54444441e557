// @ts-check
// The demo as a plain node:http request handler, on npuser's sign-in routes:
// /auth/* is createSignInHandler's, the pages are the demo's own. It does not
// listen: server.js does, and the tests mount it with their own NpUser.
import { readFileSync } from 'node:fs';
import { DEFAULTS, isNpUserError } from 'npuser';
import { createSignInHandler, toNodeHandler } from 'npuser/http';
import { codePage, humanDuration, mailboxPage, messagePage, signInPage, signedInPage } from './pages.js';

/** @typedef {import('node:http').IncomingMessage} IncomingMessage */
/** @typedef {import('node:http').ServerResponse} ServerResponse */
/** @typedef {import('npuser').NpUser} NpUser */
/** @typedef {import('npuser').Mailer} Mailer */
/** @typedef {import('npuser').NpUserErrorCode} NpUserErrorCode */
/** @typedef {import('npuser/http').SignInPageState} SignInPageState */
/** @typedef {(req: IncomingMessage, res: ServerResponse) => void} RequestListener */

/** The cookie that carries the session token (the sign-in handler's default). */
export const SESSION_COOKIE = 'npuser_session';

/** Sent with every response, whatever its status. */
export const SECURITY_HEADERS = Object.freeze({
  'Content-Security-Policy':
    "default-src 'none'; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Content-Type-Options': 'nosniff',
  // Not no-referrer: a browser without Sec-Fetch-Site then sends `Origin: null`, which the
  // sign-in routes refuse as cross-site. same-origin keeps the page's address on this site.
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
});

const STATIC = Object.freeze({
  '/style.css': { body: readFileSync(new URL('./style.css', import.meta.url)), type: 'text/css; charset=utf-8' },
  '/demo.js': { body: readFileSync(new URL('./demo.js', import.meta.url)), type: 'text/javascript; charset=utf-8' },
});

/**
 * @typedef {object} MailboxEntry
 * @property {string} to
 * @property {string} code
 * @property {Date} sentAt
 * @property {Date} expiresAt
 */

/**
 * @typedef {object} DevMailbox
 * @property {Mailer} mailer The mailer to give NpUser: it sends through `inner`, then keeps a copy.
 * @property {readonly MailboxEntry[]} messages What was sent, newest first (the last 50).
 */

/**
 * In development: a mailer that keeps what `inner` (the console mailer) sent, for /dev/mailbox.
 * @param {Mailer} inner
 * @param {{ now?: () => number }} [options]
 * @returns {DevMailbox}
 */
export function devMailbox(inner, { now = Date.now } = {}) {
  /** @type {MailboxEntry[]} */
  const messages = [];
  return {
    messages,
    mailer: {
      async send(message, options) {
        await inner.send(message, options);
        messages.unshift({ to: message.to, code: message.code, sentAt: new Date(now()), expiresAt: message.expiresAt });
        messages.length = Math.min(messages.length, 50);
      },
    },
  };
}

/**
 * @typedef {object} DemoAppOptions
 * @property {NpUser} np The NpUser that does the work.
 * @property {(err: unknown) => void} [onUnexpectedError] Told about errors that
 * became a 500 page. Defaults to `console.error`.
 * @property {import('./pages.js').Delivery} [delivery] How codes reach the visitor,
 * for the pages' wording: `'console'` (default) or `'email'` (SMTP_URL).
 * @property {DevMailbox} [mailbox] What the console mailer sent: shown at /dev/mailbox when given.
 * @property {() => number} [now] The clock, the NpUser's.
 * @property {number} [resendCooldownSeconds] The NpUser's, for the resend button.
 * @property {number} [maxSessionSeconds] The NpUser's, for the signed-in page.
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
export function createDemoApp({
  np,
  onUnexpectedError = logUnexpectedError,
  delivery = 'console',
  mailbox,
  now = Date.now,
  resendCooldownSeconds = DEFAULTS.resendCooldownSeconds,
  maxSessionSeconds = DEFAULTS.maxSessionSeconds,
}) {
  const signIn = createSignInHandler(np, { basePath: '/auth', signInPage: '/', redirectTo: '/me', now });
  const auth = toNodeHandler(signIn.fetch);
  /** @type {Record<string, readonly string[]>} */
  const routes = { '/': ['GET', 'HEAD'], '/me': ['GET', 'HEAD'], '/style.css': ['GET', 'HEAD'], '/demo.js': ['GET', 'HEAD'] };
  if (mailbox) routes['/dev/mailbox'] = ['GET', 'HEAD'];

  return function demoApp(req, res) {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    /** @param {unknown} err */
    const fail = (err) => {
      if (isNpUserError(err, 'ERR_NPUSER_STORE_FAILED')) {
        sendPage(
          res,
          503,
          messagePage({ title: 'Sign-in is unavailable', message: 'Sign-in is unavailable just now. Please try again in a moment.' }),
        );
        return;
      }
      try {
        onUnexpectedError(err);
      } catch {
        // A failing logger must not take the response down with it.
      }
      sendPage(res, 500, messagePage({ title: 'Something went wrong', message: 'The demo hit an unexpected error. Please try again.' }));
    };
    const path = (req.url ?? '/').split('?', 1)[0] ?? '/';
    // The sign-in routes: the handler answers them all, errors included.
    if (path.startsWith('/auth/')) {
      auth(req, res, fail);
      return;
    }
    // Nothing escapes this catch: no unhandled rejection, whatever the input.
    page(req, res, path).catch(fail);
  };

  /**
   * @param {IncomingMessage} req
   * @param {ServerResponse} res
   * @param {string} path
   */
  async function page(req, res, path) {
    const method = req.method ?? 'GET';
    const allowed = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (allowed === undefined) {
      sendPage(res, 404, messagePage({ title: 'Page not found', message: 'There is nothing at this address.' }));
      return;
    }
    if (!allowed.includes(method)) {
      sendPage(res, 405, messagePage({ title: 'Method not allowed', message: `This page does not accept ${method} requests.` }), {
        Allow: allowed.join(', '),
      });
      return;
    }
    const asset = path === '/style.css' || path === '/demo.js' ? STATIC[path] : undefined;
    if (asset) {
      send(res, 200, asset.body, { 'Content-Type': asset.type });
      return;
    }
    if (path === '/dev/mailbox' && mailbox) {
      sendPage(res, 200, mailboxPage({ messages: mailbox.messages, nowMs: now() }));
      return;
    }

    const session = await signIn.getSession(req);
    /** @type {Record<string, string | string[]>} */
    const headers = session?.setCookie ? { 'Set-Cookie': session.setCookie } : {};
    if (path === '/me') {
      if (session === null) {
        // The sign-in page clears a cookie that no longer works, and says so.
        redirect(res, '/');
        return;
      }
      sendPage(
        res,
        200,
        signedInPage({
          subject: session.subject,
          expiresInSeconds: secondsUntil(session.expiresAt),
          signedInSecondsAgo: Math.max(0, (now() - session.authenticatedAt.getTime()) / 1000),
          maxSessionSeconds,
        }),
        headers,
      );
      return;
    }

    // '/': the sign-in page, at whichever step the handler's state says.
    if (session !== null) {
      redirect(res, '/me', headers);
      return;
    }
    const state = signIn.getPageState(req);
    const ended = hasSessionCookie(req);
    const error = state.error && describeError(state.error.code, state.error.retryAfterSeconds, state.step);
    const notice = ended ? 'Your session has ended. Sign in again.' : noticeFor(state.notice);
    const page =
      state.step === 'code'
        ? codePage({
            email: state.email,
            expiresInSeconds: secondsUntil(state.codeExpiresAt),
            resendInSeconds: resendCooldownSeconds - (now() - state.codeSentAt.getTime()) / 1000,
            delivery,
            mailbox: mailbox !== undefined,
            error,
            notice,
          })
        : signInPage({ delivery, mailbox: mailbox !== undefined, error, notice });
    sendPage(res, 200, page, ended ? { 'Set-Cookie': clearSessionCookie() } : {});
  }

  /** @param {Date} date */
  function secondsUntil(date) {
    return Math.max(0, Math.floor((date.getTime() - now()) / 1000));
  }
}

/** @param {unknown} err */
function logUnexpectedError(err) {
  console.error('npuser demo: unexpected error:', err);
}

/** @param {SignInPageState['notice']} notice */
function noticeFor(notice) {
  switch (notice) {
    case 'signed-out':
      return 'You are signed out.';
    case 'signed-out-everywhere':
      return 'You are signed out on every browser and device.';
    default:
      return undefined;
  }
}

/**
 * Plain words for what the sign-in routes answered, with the wait when there is one.
 * @param {NpUserErrorCode} code
 * @param {number | undefined} retryAfterSeconds
 * @param {'email' | 'code'} step Which form the visitor is back on.
 * @returns {string}
 */
export function describeError(code, retryAfterSeconds, step) {
  switch (code) {
    case 'ERR_NPUSER_INVALID_EMAIL':
      return 'That doesn’t look like an email address. Please check it and try again.';
    case 'ERR_NPUSER_INVALID_CODE':
      // Back on the address form: this browser's pending sign-in ended with its code.
      return step === 'email'
        ? 'That code has expired. Enter your address again to get a new one.'
        : 'That code isn’t right. Check it and try again, or ask for a new one.';
    case 'ERR_NPUSER_TOO_MANY_ATTEMPTS':
      return 'Too many wrong attempts: that code no longer works. Ask for a new code.';
    case 'ERR_NPUSER_ADDRESS_LOCKED':
      return `Too many failed sign-ins for this address. It is locked for ${humanDuration(retryAfterSeconds ?? 3600)}.`;
    case 'ERR_NPUSER_RATE_LIMITED':
      return `Too many requests. Please wait ${humanDuration(retryAfterSeconds ?? 60)} and try again.${
        step === 'code' ? ' The code you already received still works until it expires.' : ''
      }`;
    case 'ERR_NPUSER_MAILER_FAILED':
      return 'We couldn’t send the code just now. Please try again in a moment.';
    case 'ERR_NPUSER_STORE_FAILED':
      return 'Sign-in is unavailable just now. Please try again in a moment.';
    case 'ERR_NPUSER_INVALID_TOKEN':
    case 'ERR_NPUSER_TOKEN_EXPIRED':
      return 'You are not signed in any more. Please sign in again.';
    case 'ERR_NPUSER_BAD_REQUEST':
    case 'ERR_NPUSER_PAYLOAD_TOO_LARGE':
      return 'Something was wrong with that form. Please try again.';
    default:
      // The list of codes only grows; a code this demo does not know yet still gets words.
      return 'Something went wrong. Please try again.';
  }
}

/** @param {IncomingMessage} req */
function hasSessionCookie(req) {
  return (req.headers.cookie ?? '').split(';').some((part) => part.trim().startsWith(`${SESSION_COOKIE}=`));
}

function clearSessionCookie() {
  return `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`;
}

/**
 * @param {ServerResponse} res
 * @param {string} location
 * @param {Record<string, string | string[]>} [headers]
 */
function redirect(res, location, headers = {}) {
  send(res, 303, '', { Location: location, ...headers });
}

/**
 * @param {ServerResponse} res
 * @param {number} status
 * @param {string} page
 * @param {Record<string, string | string[]>} [headers]
 */
function sendPage(res, status, page, headers = {}) {
  send(res, status, page, { 'Content-Type': 'text/html; charset=utf-8', ...headers });
}

/**
 * @param {ServerResponse} res
 * @param {number} status
 * @param {string | Buffer} body
 * @param {Record<string, string | string[]>} headers
 */
function send(res, status, body, headers) {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'Content-Length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}
