// Sign-in for a plain node:http server: a page that asks for an address and a code, a protected page, sign-out.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { NpUser } from 'npuser';
import { createSignInHandler, toNodeHandler } from 'npuser/http';

// No NPUSER_SECRET: a random one, so sessions end when the app restarts. No mailer: codes are printed here.
const np = new NpUser({ secret: process.env.NPUSER_SECRET || randomBytes(32).toString('base64'), appName: 'node:http example' });
const signIn = createSignInHandler(np, { redirectTo: '/account' });
const auth = toNodeHandler(signIn.fetch); // POST /auth/code, /auth/verify, /auth/sign-out; GET /auth/session

/** @param {string} text */
const esc = (text) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** @param {import('node:http').ServerResponse} res @param {number} status @param {string} body @param {Record<string, string>} [headers] */
const send = (res, status, body, headers = {}) => {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
  return res.end(`<!doctype html><html lang="en"><meta charset="utf-8"><title>node:http example</title>${body}</html>`);
};

/** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
async function app(req, res) {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/account') {
    const session = await signIn.getSession(req);
    if (!session) return send(res, 303, '', { location: '/' });
    return send(res, 200, `<h1>Your account</h1><p>Signed in as <code>${session.subject}</code>.</p>
      <form method="post" action="/auth/sign-out"><button>Sign out</button></form>`, session.setCookie ? { 'set-cookie': session.setCookie } : {});
  }
  if (path !== '/') return send(res, 404, '<h1>Not found</h1>');
  const state = signIn.getPageState(req);
  return send(res, 200, `<h1>Sign in</h1>${state.error ? `<p role="alert">${state.error.title}</p>` : ''}
    ${state.step === 'code' ? `<form method="post" action="/auth/verify"><p>We sent a code to ${esc(state.email)}.</p>
      <label>Code <input name="code" inputmode="numeric" autocomplete="one-time-code" required></label>
      <button>Sign in</button></form>` : ''}
    <form method="post" action="/auth/code"><label>Email <input name="email" type="email" autocomplete="email"
      value="${esc(state.email ?? '')}" required></label> <button>${state.step === 'code' ? 'Send a new code' : 'Email me a code'}</button></form>`);
}

const port = Number(process.env.PORT || 3000);
createServer((req, res) => {
  if (req.url?.startsWith('/auth/')) auth(req, res);
  else app(req, res).catch(() => { send(res, 500, '<h1>Something went wrong</h1>'); });
}).listen(port, '127.0.0.1', () => { console.log(`node:http example: http://localhost:${port}`); });
