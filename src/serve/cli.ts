import { APP_ID } from '../http/service-config.js';
import { apiKeyDigest, newApiKey } from '../http/service-keys.js';
import { randomId } from '../lib/keys.js';
import { ConfigError, loadServePlan } from './config.js';
import { startServer } from './server.js';

/**
 * `npuser serve` and `npuser keys create`, loaded by the `npuser` command
 * only for them.
 * @internal
 * @module
 */

type Write = (text: string) => void;

/** The options of `npuser keys create`, as the command table parsed them. @internal */
export interface KeysCreateValues {
  readonly app: string | undefined;
  readonly test: boolean | undefined;
  readonly id: string | undefined;
  readonly 'not-after': string | undefined;
  readonly json: boolean | undefined;
}

/**
 * `npuser keys create`: a new API key, printed once, and its configuration
 * entry. A `TypeError` is the user's mistake (the command prints the usage).
 * @internal
 */
export function keysCreate(values: KeysCreateValues, out: Write): number {
  const app = values.app;
  if (app === undefined || !APP_ID.test(app))
    throw new TypeError("--app must be the app's id (1–63 lowercase letters, digits and hyphens)");
  const id = values.id ?? `k-${randomId(4).replace(/[^A-Za-z0-9]/g, 'x')}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) throw new TypeError('--id must be 1–64 letters, digits, dots, hyphens or underscores');
  const notAfter = values['not-after'];
  if (
    notAfter !== undefined &&
    (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(notAfter) || !Number.isFinite(Date.parse(notAfter)))
  ) {
    throw new TypeError('--not-after must be an ISO 8601 date-time with a time zone, e.g. 2027-06-01T00:00:00Z');
  }
  const mode = values.test === true ? 'test' : 'live';
  const key = newApiKey(mode);
  const entry = { id, sha256: apiKeyDigest(key).toString('hex'), ...(notAfter === undefined ? {} : { notAfter }) };
  if (values.json === true) {
    out(`${JSON.stringify({ app, mode, key, entry })}\n`);
    return 0;
  }
  out(
    [
      `A new ${mode} API key for the app "${app}". It is shown only this once: put it in that app's secrets.`,
      '',
      `  ${key}`,
      '',
      `Add this entry to "apiKeys" of the app "${app}" in the configuration (it holds only the key's SHA-256):`,
      '',
      `  ${JSON.stringify(entry)}`,
      '',
      `With the environment alone, list its hash in NPUSER_API_KEYS=${entry.sha256}`,
      '',
    ].join('\n'),
  );
  return 0;
}

/**
 * `npuser serve`: resolves once the server has stopped (SIGTERM or SIGINT,
 * after draining), with the exit code; a bad configuration is one line on
 * stderr and exit code 2.
 * @internal
 */
export async function serve(config: string | undefined, out: Write, err: Write): Promise<number> {
  let running;
  try {
    running = await startServer(loadServePlan(config, process.env), { out, err });
  } catch (error) {
    if (error instanceof ConfigError) {
      err(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const code = await new Promise<number>((resolve) => {
    const onSignal = () => {
      resolve(running.shutdown());
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  // Whatever a peer left running (a reconnect timer) must not hold the process once it is done.
  setTimeout(() => process.exit(code), 100).unref();
  return code;
}
