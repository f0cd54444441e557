// @ts-check
// The sign-in beside a popular peer's, in one process, rounds interleaved:
// npuser's requestCode + verifyCode on the memory store, and better-auth's
// email-OTP plugin (send a sign-in code, sign in with it) on its memory
// adapter, both with a mailer that only keeps the code. One JSON line per
// figure on stdout. Every loop is bounded; nothing leaves the process (the
// peer's telemetry is off and its base URL is a loopback address).
import { betterAuth } from 'better-auth';
import { memoryAdapter } from 'better-auth/adapters/memory';
import { emailOTP } from 'better-auth/plugins/email-otp';
import { NpUser, memoryCodeStore } from 'npuser';
import { asyncRound, codeListMailer, measure, printLine } from './lib.js';

const SECRET = 'benchmark secret, at least thirty-two bytes';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 300);

const mailer = codeListMailer();
const np = new NpUser({ secret: SECRET, mailer, store: memoryCodeStore({ maxEntries: 2 ** 24 }) });

/** The peer's tables. @type {{ user: unknown[], session: unknown[], account: unknown[], verification: unknown[] }} */
const tables = { user: [], session: [], account: [], verification: [] };
let peerCode = '';
const peer = betterAuth({
  secret: SECRET,
  baseURL: 'http://127.0.0.1:3000',
  database: memoryAdapter(tables),
  telemetry: { enabled: false },
  plugins: [
    emailOTP({
      sendVerificationOTP: ({ otp }) => {
        peerCode = otp;
        return Promise.resolve();
      },
    }),
  ],
});
const peerEmail = 'someone@example.com';

/** @type {import('./lib.js').Figure[]} */
const figures = [
  {
    name: 'requestCode + verifyCode, beside the peer',
    round: asyncRound(async (i) => {
      const email = `beside${i}@example.com`;
      await np.requestCode(email);
      await np.verifyCode(email, /** @type {string} */ (mailer.codes.at(-1)));
    }),
  },
  {
    name: 'peer: email-OTP send + sign-in',
    // One user signing in again and again. Each sign-in adds a session, and the peer's memory adapter
    // copies its whole database in every transaction, so a sign-in costs more the more sessions there
    // are: the sessions are dropped after each one (which costs next to nothing), and the peer is
    // measured at its fastest, on a database of one user.
    round: asyncRound(async () => {
      await peer.api.sendVerificationOTP({ body: { email: peerEmail, type: 'sign-in' } });
      const { token } = await peer.api.signInEmailOTP({ body: { email: peerEmail, otp: peerCode } });
      if (typeof token !== 'string' || token === '') throw new Error('the peer signed nobody in');
      tables.session.length = 0;
    }),
  },
];

await measure(figures, { rounds: ROUNDS, roundMs: ROUND_MS, onResult: printLine });
