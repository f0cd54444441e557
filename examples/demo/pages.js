// @ts-check
// The demo's HTML. Every page is built with the `html` tag below, which
// escapes each interpolated value unless it is already HTML built by `html`:
// an address typed by a visitor can never become markup.

/** HTML built by the {@link html} tag: safe to interpolate as is. */
export class SafeHtml {
  /** @param {string} value */
  constructor(value) {
    /** @readonly */
    this.value = value;
  }

  /** @returns {string} */
  toString() {
    return this.value;
  }
}

/**
 * @typedef {string | number | SafeHtml | undefined | null | false | readonly SafeHtml[]} HtmlValue
 * What may be interpolated into {@link html}: text is escaped; `undefined`,
 * `null` and `false` render nothing (for `cond && html\`…\``).
 */

/**
 * Escape text for element content and for quoted attribute values.
 * @param {string} text
 * @returns {string}
 */
export function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (char) => {
    switch (char) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      default:
        return '&#39;';
    }
  });
}

/**
 * @param {HtmlValue} value
 * @returns {string}
 */
function render(value) {
  if (value === undefined || value === null || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (typeof value === 'string') return escapeHtml(value);
  if (typeof value === 'number') return escapeHtml(String(value));
  return value.map((part) => part.value).join('');
}

/**
 * Build HTML from a template literal, escaping every interpolated value.
 * @param {TemplateStringsArray} strings
 * @param {...HtmlValue} values
 * @returns {SafeHtml}
 */
export function html(strings, ...values) {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new SafeHtml(out);
}

/**
 * "42 seconds", "10 minutes", "about 2 hours", "30 days": a wait or a lifetime in plain words.
 * @param {number} seconds
 * @returns {string}
 */
export function humanDuration(seconds) {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `${minutes} minute${minutes === 1 ? '' : 's'}`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `about ${hours} hour${hours === 1 ? '' : 's'}`;
  return `${Math.round(hours / 24)} days`;
}

/**
 * @param {string | undefined} message
 * @param {'error' | 'notice'} [kind]
 */
function alert(message, kind = 'error') {
  if (message === undefined) return undefined;
  return html`<p class="alert alert-${kind}" id="${kind}" role="${kind === 'error' ? 'alert' : 'status'}">${message}</p>`;
}

/**
 * The page around every card.
 * @param {{ title: string, step?: string, body: SafeHtml }} page
 * @returns {string}
 */
export function layout({ title, step, body }) {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${title} · npuser demo</title>
<link rel="stylesheet" href="/style.css">
<script src="/demo.js" defer></script>
</head>
<body>
<main class="card">
<header class="brand">
<span class="logo" aria-hidden="true">np</span>
<span class="name">npuser</span>
<span class="tag">demo</span>
</header>
${step === undefined ? undefined : html`<p class="step">${step}</p>`}
${body}
</main>
<footer class="footer">
<p>Sign in with a one-time code sent by email — no password, no user database.</p>
</footer>
</body>
</html>
`.value;
}

/**
 * How codes reach the visitor: printed by the console mailer, or really emailed (SMTP_URL).
 * @typedef {'console' | 'email'} Delivery
 */

/**
 * The address field, and its button: step 1, and "use a different address" on step 2.
 * @param {{ email?: string, error?: string | undefined, button: string }} options
 */
function emailForm({ email = '', error, button }) {
  const invalid = error !== undefined;
  return html`<form method="post" action="/auth/code" class="stack">
<label for="email">Email address</label>
<input id="email" name="email" type="email" value="${email}" required autocomplete="email" spellcheck="false" autocapitalize="off" maxlength="254" placeholder="you@example.com"${invalid ? html` aria-invalid="true" aria-describedby="error"` : undefined}>
<button type="submit">${button}</button>
</form>`;
}

/**
 * Where the code is, in plain words: the terminal (and, in development, the dev mailbox) or the inbox.
 * @param {Delivery} delivery
 * @param {boolean} mailbox
 */
function whereTheCodeIs(delivery, mailbox) {
  if (delivery === 'email') return html`It may take a minute to arrive; look in your spam folder too.`;
  return html`This demo uses npuser’s console mailer, so the “email” is printed in the terminal where you ran <code>npm start</code>${
    mailbox ? html`, and shown in the <a href="/dev/mailbox" class="link" target="_blank" rel="noopener">dev mailbox</a>` : undefined
  }. In a real app it would land in your inbox.`;
}

/**
 * Step 1: ask for an address.
 * @param {{ error?: string | undefined, notice?: string | undefined, delivery?: Delivery, mailbox?: boolean }} [options]
 * @returns {string}
 */
export function signInPage({ error, notice, delivery = 'console', mailbox = false } = {}) {
  return layout({
    title: 'Sign in',
    step: 'Step 1 of 2',
    body: html`
<h1>Sign in</h1>
<p class="lead">Enter your email address and we’ll send you a one-time code. No password to remember, no account to create.</p>
${alert(error)}
${alert(notice, 'notice')}
${emailForm({ error, button: 'Email me a code' })}
<p class="hint">${delivery === 'console' ? whereTheCodeIs(delivery, mailbox) : html`The code is emailed to you and works once.`}</p>`,
  });
}

/**
 * Step 2: ask for the code sent to `email`.
 * @param {{ email: string, expiresInSeconds?: number | undefined, resendInSeconds?: number, error?: string | undefined, notice?: string | undefined, delivery?: Delivery, mailbox?: boolean }} options
 * `resendInSeconds`: the resend cooldown left; the button says it, and demo.js keeps it disabled until then.
 * @returns {string}
 */
export function codePage({ email, expiresInSeconds, resendInSeconds = 0, error, notice, delivery = 'console', mailbox = false }) {
  const lifetime = expiresInSeconds === undefined ? undefined : html` The code works once, for ${humanDuration(expiresInSeconds)}.`;
  const wait = Math.max(0, Math.ceil(resendInSeconds));
  return layout({
    title: 'Enter your code',
    step: 'Step 2 of 2',
    body: html`
<h1>${delivery === 'console' ? 'Check your terminal' : 'Check your inbox'}</h1>
<p class="lead">We sent a sign-in code to <strong class="email">${email}</strong>.</p>
<p class="hint">${whereTheCodeIs(delivery, mailbox)}${lifetime}</p>
${alert(error)}
${alert(notice, 'notice')}
<form method="post" action="/auth/verify" class="stack">
<label for="code">Sign-in code</label>
<input id="code" name="code" class="code" type="text" inputmode="numeric" autocomplete="one-time-code" required autofocus maxlength="20" spellcheck="false" placeholder="123 456"${error === undefined ? undefined : html` aria-invalid="true" aria-describedby="error"`}>
<button type="submit">Sign in</button>
</form>
<form method="post" action="/auth/code" class="resend">
<input type="hidden" name="email" value="${email}">
<button type="submit" class="link" id="resend" data-wait="${wait}">Send a new code</button>
<span class="hint" id="resend-wait" aria-live="polite">${wait > 0 ? html`You can ask for a new one in ${humanDuration(wait)}.` : undefined}</span>
</form>
<details class="other">
<summary class="link">Use a different address</summary>
${emailForm({ email: '', button: 'Email me a code' })}
</details>`,
  });
}

/**
 * Signed in: the token in the cookie was valid.
 * @param {{ subject: string, expiresInSeconds: number, signedInSecondsAgo: number, maxSessionSeconds: number }} options
 * @returns {string}
 */
export function signedInPage({ subject, expiresInSeconds, signedInSecondsAgo, maxSessionSeconds }) {
  return layout({
    title: 'Signed in',
    body: html`
<h1><span class="check" aria-hidden="true">✓</span> You are signed in</h1>
<p class="lead">This app knows you by this subject:</p>
<p class="subject"><code id="subject">${subject}</code></p>
<p class="hint">It is a per-app pseudonym that npuser derives from your address with the app’s secret, not your email: another app would see a different one, and this app sees the same one every time you sign in.</p>
<p class="hint" id="session">You signed in ${signedInSecondsAgo < 60 ? html`just now` : html`${humanDuration(signedInSecondsAgo)} ago`}. Your session is a signed token in an HttpOnly cookie; nothing about you is stored on the server. It ends in ${humanDuration(expiresInSeconds)} unless you come back: each visit in its second half renews it, for up to ${humanDuration(maxSessionSeconds)} after you signed in.</p>
<form method="post" action="/auth/sign-out" class="stack">
<button type="submit" class="secondary-button">Sign out</button>
</form>
<form method="post" action="/auth/sign-out-everywhere" class="secondary">
<button type="submit" class="link">Sign out everywhere (every browser and device)</button>
</form>`,
  });
}

/**
 * In development: what the console mailer “sent”, newest first.
 * @param {{ messages: readonly { to: string, code: string, sentAt: Date, expiresAt: Date }[], nowMs: number }} options
 * @returns {string}
 */
export function mailboxPage({ messages, nowMs }) {
  return layout({
    title: 'Dev mailbox',
    body: html`
<h1>Dev mailbox</h1>
<p class="lead">What the console mailer “sent”, newest first. This page exists only while the demo prints codes instead of mailing them.</p>
${
  messages.length === 0
    ? html`<p class="hint" id="empty">Nothing sent yet.</p>`
    : html`<ol class="mailbox">${messages.map(
        (m) => html`<li class="message">
<p><span class="hint">To</span> <strong class="to">${m.to}</strong></p>
<p><span class="hint">Code</span> <code class="mail-code">${m.code}</code></p>
<p class="hint">Sent ${humanDuration((nowMs - m.sentAt.getTime()) / 1000)} ago · ${
          m.expiresAt.getTime() > nowMs ? html`works for ${humanDuration((m.expiresAt.getTime() - nowMs) / 1000)} more` : html`expired`
        }</p>
</li>`,
      )}</ol>`
}
<p><a href="/" class="link">Back to sign-in</a></p>`,
  });
}

/**
 * A page for what is not part of the flow: 404, 405, 500…
 * @param {{ title: string, message: string }} options
 * @returns {string}
 */
export function messagePage({ title, message }) {
  return layout({
    title,
    body: html`
<h1>${title}</h1>
<p class="lead">${message}</p>
<p><a href="/" class="link">Back to sign-in</a></p>`,
  });
}
