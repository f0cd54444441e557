// Sign-in through the npuser service: the Express example with NpUserClient where NpUser was. start.js runs both.
import express from 'express';
import { NpUserClient } from 'npuser/client';
import { createSignInHandler, toNodeHandler } from 'npuser/http';

// The app holds no secret and sends no mail: the service does both. It has the service's address and its own API key.
const np = new NpUserClient({ baseUrl: process.env.NPUSER_URL || 'http://127.0.0.1:8080', apiKey: process.env.NPUSER_API_KEY || '' });
// The client has no refreshToken and no revokeSubject: a session lasts the service's token lifetime
// (an hour) without renewal, and /auth/sign-out-everywhere answers 404. Sign-out revokes the token.
const signIn = createSignInHandler(np, { redirectTo: '/account' });
const app = express();
app.use('/auth', toNodeHandler(signIn.fetch)); // POST /auth/code, /auth/verify, /auth/sign-out; GET /auth/session

/** @param {string} text */
const esc = (text) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** @param {string} body */
const page = (body) => `<!doctype html><html lang="en"><meta charset="utf-8"><title>Service client example</title>${body}</html>`;

app.get('/', (req, res) => {
  const state = signIn.getPageState(req);
  res.send(page(`<h1>Sign in</h1>${state.error ? `<p role="alert">${state.error.title}</p>` : ''}
    ${state.step === 'code' ? `<form method="post" action="/auth/verify"><p>We sent a code to ${esc(state.email)}.</p>
      <label>Code <input name="code" inputmode="numeric" autocomplete="one-time-code" required></label>
      <button>Sign in</button></form>` : ''}
    <form method="post" action="/auth/code"><label>Email <input name="email" type="email" autocomplete="email"
      value="${esc(state.email ?? '')}" required></label> <button>${state.step === 'code' ? 'Send a new code' : 'Email me a code'}</button></form>`));
});

app.get('/account', async (req, res) => {
  const session = await signIn.getSession(req); // one validate-token call to the service: it sees revocations at once
  if (!session) {
    res.redirect('/');
    return;
  }
  res.send(page(`<h1>Your account</h1><p>Signed in as <code>${session.subject}</code>.</p>
    <form method="post" action="/auth/sign-out"><button>Sign out</button></form>`));
});

const port = Number(process.env.PORT || 3000);
app.listen(port, '127.0.0.1', (error) => {
  if (error) throw error; // Express 5 calls back with a taken port too
  console.log(`Service client example: http://localhost:${port}`);
});
