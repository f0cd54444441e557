// What the documentation's code examples take as given: the app around each fragment.
//
// test/docs/code-examples.test.ts compiles every ```ts block of README.md and docs/*.md and
// every @example of src/ as a module of its own, with this file as its only ambient
// context. An example may declare any of these names itself; its own declaration
// shadows the one here. Types are what a real app has (Express-style handlers, a
// nodemailer transporter, an ioredis client), not `any`, so a wrong call fails.
//
// The repository's own tsconfig.json leaves this directory out, so no test ever sees
// `np` or `req` as globals. The examples' test compiles this file as a .ts module, so
// it is type-checked itself (skipLibCheck would pass over a .d.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { Transporter } from 'nodemailer';
import type { NpUserClient } from 'npuser/client';
import type { SignInHandler } from 'npuser/http';
import type { CodeMessage, CodeStore, Mailer, NpUser, StoreCounter, StoreEntry, StoreStep, StoreStepResult } from 'npuser';

/** A request after body and cookie parsing, as Express types it. */
interface DocRequest extends IncomingMessage {
  /** A parsed sign-in form. */
  readonly body: { readonly email: string; readonly code: string };
  /** The client's address; undefined when the socket is gone. */
  readonly ip: string | undefined;
  /** Parsed cookies; a cookie the browser did not send is undefined. */
  readonly cookies: Readonly<Record<string, string | undefined>>;
}

interface DocCookieOptions {
  readonly httpOnly?: boolean;
  readonly secure?: boolean;
  readonly sameSite?: 'lax' | 'strict' | 'none';
  readonly path?: string;
  readonly maxAge?: number;
}

/** A response with Express's helpers on node:http's. */
interface DocResponse extends ServerResponse {
  status(code: number): this;
  set(name: string, value: string): this;
  /** Adds a header value, keeping those already set (another cookie). */
  append(name: string, value: string | string[]): this;
  send(body?: string): this;
  json(body: unknown): this;
  cookie(name: string, value: string, options?: DocCookieOptions): this;
  clearCookie(name: string, options?: DocCookieOptions): this;
  redirect(url: string): void;
  /** Per-request values for later handlers. */
  readonly locals: Record<string, unknown>;
}

type DocHandler = (req: DocRequest, res: DocResponse) => unknown;

declare global {
  // ─── npuser, as the app has set it up ───────────────────────────────────────────

  /** The app's NpUser instance. */
  const np: NpUser;
  /** The app's client of the npuser service (`npuser/client`). */
  const auth: NpUserClient;
  /** The app's sign-in routes (`createSignInHandler(np)`). */
  const signIn: SignInHandler;
  /** The request a handler is given. */
  const request: Request;
  /** The CodeStore the app configured. */
  const store: CodeStore;
  /** Bun's server, for the examples that mount a handler on Bun. */
  const Bun: { serve(options: { fetch: (request: Request) => Response | Promise<Response> }): unknown };
  /** The address the user typed. */
  const email: string;
  /** The code the user typed. */
  const code: string;
  /** A token from `verifyCode`. */
  const token: string;
  /** The client's IP address. */
  const ip: string;
  /** What a catch block caught. */
  const err: unknown;
  /** The message a mailer is asked to send. */
  const message: CodeMessage;
  /** The app's mailer. */
  const mailer: Mailer;
  /** A mailer the app wrote or configured. */
  const myMailer: Mailer;
  /** A test's clock, in milliseconds (for `now: () => clock`). */
  const clock: number;
  /** Where the app publishes `np.jwks()`. */
  const jwksUrl: string;

  // ─── The web framework (Express-style) ──────────────────────────────────────────

  /** The app's router. */
  const app: {
    get(path: string, handler: DocHandler): void;
    post(path: string, handler: DocHandler): void;
    use(handler: (req: DocRequest, res: DocResponse, next: () => void) => unknown): void;
  };
  const req: DocRequest;
  const res: DocResponse;
  /** A submitted sign-in form (no framework). */
  const form: { readonly email: string; readonly code: string };
  /** The request's cookies (no framework). */
  const cookies: Readonly<Record<string, string | undefined>>;

  // ─── Backends the app already has ───────────────────────────────────────────────

  /** The app's nodemailer transporter. */
  const transporter: Transporter;
  /** The app's ioredis client. */
  const client: Redis;

  /** The app's own database, behind a custom CodeStore. */
  interface MyDatabase {
    put(key: string, value: string, options: { expiresInMs: number }): Promise<void>;
    getWithTtl(key: string): Promise<StoreEntry | undefined>;
    getAndDelete(key: string): Promise<string | undefined>;
    getAndDeleteIfEqual(key: string, expected?: string): Promise<string | undefined>;
    delete(key: string): Promise<void>;
    incrementWithTtlOnCreate(key: string, ttlMs: number): Promise<StoreCounter>;
    /** Runs `work` as one transaction of the database. */
    atomically<T>(work: (tx: MyDatabase) => Promise<T>): Promise<T>;
  }
  /** Runs transact steps on the app's database, one by one, inside a transaction. */
  function runSteps(tx: MyDatabase, steps: readonly StoreStep[]): Promise<StoreStepResult[]>;
  const db: MyDatabase;
  /** A database for tests. */
  const testDb: MyDatabase;
  /** A CodeStore the app wrote over its database. */
  function myCodeStore(db?: MyDatabase): CodeStore;
  /** An in-process CodeStore the app wrote, with an injectable clock. */
  function myMemoryStore(options?: { now?: () => number; maxEntries?: number }): CodeStore;

  /** The app's HTTP mail provider. */
  const myMailService: {
    send(mail: { to: string; subject?: string; text: string; html?: string }, options?: { signal?: AbortSignal }): Promise<void>;
  };
  /** The app's HTML templates. */
  const myTemplates: { signIn(message: CodeMessage): Promise<string> };

  /** A fake of the mail provider's API, for tests. */
  function fakeProviderApi(): {
    readonly client: unknown;
    readonly sent: readonly { to: string[]; subject: string; text: string; html?: string }[];
    failNext(status?: number): void;
    hangNext(): void;
  };
  /** A mailer the app wrote over that provider's API. */
  function myApiMailer(options: { client: unknown }): Mailer;

  /** The app's logger (pino-style). */
  const log: {
    info(fields: object, message?: string): void;
    warn(fields: object, message?: string): void;
    error(fields: object, message?: string): void;
  };
  /** The app's metrics. */
  const metrics: { count(name: string): void };
  /** The addresses with the admin role. */
  const admins: ReadonlySet<string>;
  /** Shows the user when to try again. */
  function retryLater(seconds?: number): void;
}
