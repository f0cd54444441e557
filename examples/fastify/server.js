// Sign-in for a Fastify 5 app: a page that asks for an address and a code, a protected page, sign-out.
import { randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import { NpUser } from 'npuser';
import { createSignInHandler, fastifySignIn } from 'npuser/http';

// No NPUSER_SECRET: a random one, so sessions end when the app restarts. No mailer: codes are printed here.
const np = new NpUser({ secret: process.env.NPUSER_SECRET || randomBytes(32).toString('base64'), appName: 'Fastify example' });
const signIn = createSignInHandler(np, { redirectTo: '/account' });
const app = Fastify();
await app.register(fastifySignIn, { signIn }); // POST /auth/code, /auth/verify, /auth/sign-out; GET /auth/session

/** @param {string} text */
const esc = (text) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** @param {string} body */
const page = (body) => `<!doctype html><html lang="en"><meta charset="utf-8"><title>Fastify example</title>${body}</html>`;

app.get('/', (request, reply) => {
  const state = signIn.getPageState(request);
  return reply.type('text/html').send(page(`<h1>Sign in</h1>${state.error ? `<p role="alert">${state.error.title}</p>` : ''}
    ${state.step === 'code' ? `<form method="post" action="/auth/verify"><p>We sent a code to ${esc(state.email)}.</p>
      <label>Code <input name="code" inputmode="numeric" autocomplete="one-time-code" required></label>
      <button>Sign in</button></form>` : ''}
    <form method="post" action="/auth/code"><label>Email <input name="email" type="email" autocomplete="email"
      value="${esc(state.email ?? '')}" required></label> <button>${state.step === 'code' ? 'Send a new code' : 'Email me a code'}</button></form>`));
});

app.get('/account', async (request, reply) => {
  const session = await signIn.getSession(request);
  if (!session) return reply.redirect('/');
  if (session.setCookie) reply.header('set-cookie', session.setCookie); // the session, renewed
  return reply.type('text/html').send(page(`<h1>Your account</h1><p>Signed in as <code>${session.subject}</code>.</p>
    <form method="post" action="/auth/sign-out"><button>Sign out</button></form>`));
});

const port = Number(process.env.PORT || 3000);
await app.listen({ port, host: '127.0.0.1' });
console.log(`Fastify example: http://localhost:${port}`);
