import { readFileSync } from 'node:fs';
import type { ServiceAppConfig, ServiceConfig } from '../http/service-config.js';

/**
 * The configuration of `npuser serve`: read from the JSON file (`--config`,
 * or `NPUSER_CONFIG`, a path or the JSON itself), or from the environment
 * alone for one app, then overridden by `REDIS_URL`, `SMTP_URL`, `PORT` and
 * `HOST`. Secrets are named by environment variable, so the file holds none.
 * @internal
 * @module
 */

/** A configuration `npuser serve` cannot start with: one line, naming the field. @internal */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Where the store is. @internal */
export type StorePlan =
  { readonly kind: 'memory' } | { readonly kind: 'redis'; readonly url: string; readonly keyPrefix: string | undefined };
/** Who sends the mail. @internal */
export type MailerPlan = { readonly kind: 'console' } | { readonly kind: 'smtp'; readonly url: string };

/** The server's own limits, in milliseconds. @internal */
export interface ServerTimeouts {
  /** Until the request's headers must have arrived (node:http `headersTimeout`). */
  readonly headersTimeoutMs: number;
  /** Until the whole request must have arrived (node:http `requestTimeout`). */
  readonly requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open (node:http `keepAliveTimeout`). */
  readonly keepAliveTimeoutMs: number;
  /** How long SIGTERM waits for requests in flight before closing what is left. */
  readonly shutdownTimeoutMs: number;
}

/** Everything `npuser serve` needs to start. @internal */
export interface ServePlan {
  readonly service: Omit<ServiceConfig, 'store' | 'mailer' | 'onAccess' | 'now'>;
  readonly store: StorePlan;
  readonly mailer: MailerPlan;
  readonly port: number;
  readonly host: string;
  readonly timeouts: ServerTimeouts;
  /** Where the configuration came from, for the start-up line. */
  readonly source: 'file' | 'inline' | 'environment';
}

const TOP_LEVEL = new Set([
  '$schema',
  'apps',
  'store',
  'mailer',
  'issuer',
  'quota',
  'port',
  'host',
  'timeouts',
  'storeTimeoutMs',
  'mailerTimeoutMs',
]);
const APP_FIELDS = new Set(['id', 'name', 'secretEnv', 'from', 'apiKeys', 'mode', 'tokenTtlSeconds', 'tokenSigning', 'signingKeyVersion']);
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const DEFAULT_TIMEOUTS: ServerTimeouts = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  keepAliveTimeoutMs: 5_000,
  shutdownTimeoutMs: 10_000,
};

function bad(field: string, problem: string): ConfigError {
  return new ConfigError(`npuser serve: bad configuration: ${field} ${problem}`);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unknownFields(value: Record<string, unknown>, known: ReadonlySet<string>, where: string): void {
  for (const name of Object.keys(value)) {
    if (!known.has(name)) throw bad(`${where}${name}`, 'is not a configuration field');
  }
}

function integerIn(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw bad(field, `must be an integer from ${min} to ${max}`);
  return value;
}

function url(field: string, value: unknown, protocols: readonly string[]): string {
  if (typeof value !== 'string') throw bad(field, `must be a ${protocols.join(' or ')} URL`);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw bad(field, `must be a ${protocols.join(' or ')} URL`);
  }
  if (!protocols.includes(parsed.protocol.slice(0, -1))) throw bad(field, `must be a ${protocols.join(' or ')} URL`);
  return value;
}

function storePlan(value: unknown): StorePlan {
  if (value === undefined || value === 'memory') return { kind: 'memory' };
  if (isObject(value)) {
    unknownFields(value, new Set(['redis', 'keyPrefix']), 'store.');
    const keyPrefix = value.keyPrefix;
    if (keyPrefix !== undefined && typeof keyPrefix !== 'string') throw bad('store.keyPrefix', 'must be a string');
    return { kind: 'redis', url: url('store.redis', value.redis, ['redis', 'rediss']), keyPrefix };
  }
  throw bad('store', 'must be "memory" or { "redis": "redis://…" }');
}

function mailerPlan(value: unknown): MailerPlan {
  if (value === undefined || value === 'console') return { kind: 'console' };
  if (isObject(value)) {
    unknownFields(value, new Set(['smtp']), 'mailer.');
    return { kind: 'smtp', url: url('mailer.smtp', value.smtp, ['smtp', 'smtps']) };
  }
  throw bad('mailer', 'must be "console" or { "smtp": "smtp://…" }');
}

function appOf(value: unknown, index: number, env: NodeJS.ProcessEnv): ServiceAppConfig {
  const at = `apps[${index}]`;
  if (!isObject(value)) throw bad(at, 'must be an object');
  if ('secret' in value)
    throw bad(`${at}.secret`, 'does not belong in the file: put the secret in the environment and name the variable with "secretEnv"');
  unknownFields(value, APP_FIELDS, `${at}.`);
  const { secretEnv } = value;
  if (typeof secretEnv !== 'string' || !ENV_NAME.test(secretEnv))
    throw bad(`${at}.secretEnv`, "must name the environment variable that holds the app's secret");
  const secret = env[secretEnv];
  if (secret === undefined || secret === '') throw bad(`${at}.secretEnv`, `names ${secretEnv}, which is not set`);
  return { ...(value as Omit<ServiceAppConfig, 'secret'>), secret };
}

/** One app from the environment alone: `NPUSER_SECRET`, `NPUSER_API_KEYS` and the optional `NPUSER_APP_*`. */
function appFromEnvironment(env: NodeJS.ProcessEnv): ServiceAppConfig {
  const secret = env.NPUSER_SECRET;
  const keys = env.NPUSER_API_KEYS;
  if (secret === undefined || secret === '') {
    throw new ConfigError(
      'npuser serve: no configuration: pass --config npuser.json, set NPUSER_CONFIG, or set NPUSER_SECRET and NPUSER_API_KEYS for one app (npuser keys create --app ID prints a key)',
    );
  }
  if (keys === undefined || keys.trim() === '')
    throw bad('NPUSER_API_KEYS', 'must list the SHA-256 of each API key, comma-separated (npuser keys create prints it)');
  const mode = env.NPUSER_MODE;
  return {
    id: env.NPUSER_APP_ID ?? 'app',
    secret,
    apiKeys: keys.split(',').map((sha256, index) => ({ id: `k${index + 1}`, sha256: sha256.trim() })),
    ...(env.NPUSER_APP_NAME === undefined ? {} : { name: env.NPUSER_APP_NAME }),
    ...(env.NPUSER_FROM === undefined ? {} : { from: env.NPUSER_FROM }),
    ...(mode === undefined ? {} : { mode: mode as 'live' | 'test' }),
  };
}

function readSource(configPath: string | undefined, env: NodeJS.ProcessEnv): { json: unknown; source: ServePlan['source'] } | undefined {
  const given = configPath ?? env.NPUSER_CONFIG;
  if (given === undefined || given === '') return undefined;
  const inline = configPath === undefined && given.trimStart().startsWith('{');
  let text: string;
  if (inline) {
    text = given;
  } else {
    try {
      text = readFileSync(given, 'utf8');
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw new ConfigError(`npuser serve: cannot read the configuration file ${given}${typeof code === 'string' ? ` (${code})` : ''}`);
    }
  }
  try {
    return { json: JSON.parse(text) as unknown, source: inline ? 'inline' : 'file' };
  } catch (err) {
    throw new ConfigError(
      `npuser serve: the configuration${inline ? ' in NPUSER_CONFIG' : ` file ${given}`} is not JSON: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/**
 * The plan for `npuser serve` from the file or the environment.
 * @throws ConfigError naming the field that is wrong.
 * @internal
 */
export function loadServePlan(configPath: string | undefined, env: NodeJS.ProcessEnv): ServePlan {
  const read = readSource(configPath, env);
  let file: Record<string, unknown>;
  let apps: ServiceAppConfig[];
  if (read === undefined) {
    file = {};
    apps = [appFromEnvironment(env)];
  } else {
    if (!isObject(read.json)) throw bad('the configuration', 'must be a JSON object with "apps"');
    file = read.json;
    unknownFields(file, TOP_LEVEL, '');
    if (!Array.isArray(file.apps) || file.apps.length === 0) throw bad('apps', 'must be a non-empty array of apps');
    apps = (file.apps as unknown[]).map((app, index) => appOf(app, index, env));
  }

  const fileStore = storePlan(file.store);
  const store: StorePlan =
    env.REDIS_URL !== undefined && env.REDIS_URL !== ''
      ? {
          kind: 'redis',
          url: url('REDIS_URL', env.REDIS_URL, ['redis', 'rediss']),
          keyPrefix: fileStore.kind === 'redis' ? fileStore.keyPrefix : undefined,
        }
      : fileStore;
  const mailer =
    env.SMTP_URL !== undefined && env.SMTP_URL !== ''
      ? { kind: 'smtp' as const, url: url('SMTP_URL', env.SMTP_URL, ['smtp', 'smtps']) }
      : mailerPlan(file.mailer);
  if (mailer.kind === 'smtp') {
    for (const [index, app] of apps.entries()) {
      if (app.mode !== 'test' && (app.from === undefined || app.from === '')) {
        throw bad(
          read === undefined ? 'NPUSER_FROM' : `apps[${index}].from`,
          "is required when mail goes out by SMTP: the sender of the app's mail",
        );
      }
    }
  }

  const portValue =
    env.PORT !== undefined && env.PORT !== '' ? (/^[0-9]{1,5}$/.test(env.PORT) ? Number(env.PORT) : Number.NaN) : (file.port ?? 8080);
  const port = integerIn(env.PORT !== undefined && env.PORT !== '' ? 'PORT' : 'port', portValue, 0, 65_535);
  const host = env.HOST !== undefined && env.HOST !== '' ? env.HOST : (file.host ?? '127.0.0.1');
  if (typeof host !== 'string') throw bad('host', 'must be a string');

  let timeouts = DEFAULT_TIMEOUTS;
  if (file.timeouts !== undefined) {
    if (!isObject(file.timeouts)) throw bad('timeouts', 'must be an object');
    unknownFields(file.timeouts, new Set(Object.keys(DEFAULT_TIMEOUTS)), 'timeouts.');
    const t = file.timeouts;
    timeouts = Object.fromEntries(
      Object.entries(DEFAULT_TIMEOUTS).map(([name, fallback]) => [
        name,
        t[name] === undefined ? fallback : integerIn(`timeouts.${name}`, t[name], 1, 600_000),
      ]),
    ) as unknown as ServerTimeouts;
  }
  if (timeouts.requestTimeoutMs < timeouts.headersTimeoutMs)
    throw bad('timeouts.requestTimeoutMs', 'must be at least timeouts.headersTimeoutMs');

  const service = {
    apps,
    ...(file.issuer === undefined ? {} : { issuer: file.issuer as string }),
    ...(file.quota === undefined ? {} : { quota: file.quota as ServiceConfig['quota'] }),
    ...(file.storeTimeoutMs === undefined ? {} : { storeTimeoutMs: file.storeTimeoutMs as number }),
    ...(file.mailerTimeoutMs === undefined ? {} : { mailerTimeoutMs: file.mailerTimeoutMs as number }),
  };
  return { service, store, mailer, port, host, timeouts, source: read?.source ?? 'environment' };
}

/**
 * A `createService` option error, in the words of the configuration file:
 * `npuser: createService options.apps[0].id …` becomes
 * `npuser serve: bad configuration: apps[0].id …`.
 * @internal
 */
export function configErrorOf(err: TypeError, source: ServePlan['source']): ConfigError {
  const match = /^npuser: (?:createService )?options\.(.*)$/s.exec(err.message);
  if (match === null) return new ConfigError(`npuser serve: ${err.message.replace(/^npuser: /, '')}`);
  let field = match[1] ?? '';
  // One app from the environment: name the variable, not a file the user never wrote.
  if (source === 'environment') {
    field = field
      .replace(/^apps\[0\]\.secret\b/, 'NPUSER_SECRET')
      .replace(/^apps\[0\]\.apiKeys\[(\d+)\]\.sha256\b/, (_all, k: string) => `NPUSER_API_KEYS (entry ${Number(k) + 1})`)
      .replace(/^apps\[0\]\.id\b/, 'NPUSER_APP_ID')
      .replace(/^apps\[0\]\.name\b/, 'NPUSER_APP_NAME')
      .replace(/^apps\[0\]\.from\b/, 'NPUSER_FROM')
      .replace(/^apps\[0\]\.mode\b/, 'NPUSER_MODE');
  }
  return new ConfigError(`npuser serve: bad configuration: ${field}`);
}
