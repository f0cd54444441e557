import { parseArgs } from 'node:util';
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

const SERVE_USAGE = `Usage: npuser serve [--config npuser.json]

Runs the npuser service: many apps, an API key each (see docs/service.md).
Configuration: --config FILE, else NPUSER_CONFIG (a path, or the JSON itself),
else one app from the environment: NPUSER_SECRET, NPUSER_API_KEYS (SHA-256 of
each key, comma-separated), and optionally NPUSER_APP_ID, NPUSER_APP_NAME,
NPUSER_FROM, NPUSER_MODE (live|test).
Overrides: REDIS_URL, SMTP_URL, PORT (default 8080), HOST (default 127.0.0.1).
`;

const KEYS_USAGE = `Usage: npuser keys create --app ID [--test] [--id KEY_ID] [--not-after 2027-06-01T00:00:00Z] [--json]

Prints a new API key for the app, once, and the "apiKeys" entry to paste in
the configuration (it holds only the key's SHA-256). --test makes an npu_test_
key, for an app whose "mode" is "test".
`;

type Write = (text: string) => void;

/** `npuser keys create`: the key and its configuration entry. @internal */
export function keysCreate(args: readonly string[], out: Write, err: Write): number {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        app: { type: 'string' },
        test: { type: 'boolean', default: false },
        id: { type: 'string' },
        'not-after': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    err(`npuser: ${error instanceof Error ? error.message : String(error)}\n\n${KEYS_USAGE}`);
    return 2;
  }
  if (values.help === true) {
    out(KEYS_USAGE);
    return 0;
  }
  const app = values.app;
  if (app === undefined || !APP_ID.test(app)) {
    err(`npuser: --app must be the app's id (1–63 lowercase letters, digits and hyphens)\n\n${KEYS_USAGE}`);
    return 2;
  }
  const id = values.id ?? `k-${randomId(4).replace(/[^A-Za-z0-9]/g, 'x')}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(id)) {
    err('npuser: --id must be 1–64 letters, digits, dots, hyphens or underscores\n');
    return 2;
  }
  const notAfter = values['not-after'];
  if (notAfter !== undefined && (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(notAfter) || !Number.isFinite(Date.parse(notAfter)))) {
    err('npuser: --not-after must be an ISO 8601 date-time with a time zone, e.g. 2027-06-01T00:00:00Z\n');
    return 2;
  }
  const key = newApiKey(values.test ? 'test' : 'live');
  const entry = { id, sha256: apiKeyDigest(key).toString('hex'), ...(notAfter === undefined ? {} : { notAfter }) };
  if (values.json) {
    out(`${JSON.stringify({ app, mode: values.test ? 'test' : 'live', key, entry })}\n`);
    return 0;
  }
  out(
    [
      `A new ${values.test ? 'test' : 'live'} API key for the app "${app}". It is shown only this once: put it in that app's secrets.`,
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

/** `npuser serve`: resolves once the server stopped, with the exit code. @internal */
export async function serve(args: readonly string[], out: Write, err: Write): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: [...args], options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (error) {
    err(`npuser: ${error instanceof Error ? error.message : String(error)}\n\n${SERVE_USAGE}`);
    return 2;
  }
  if (values.help === true) {
    out(SERVE_USAGE);
    return 0;
  }
  let running;
  try {
    running = await startServer(loadServePlan(values.config, process.env), { out, err });
  } catch (error) {
    if (error instanceof ConfigError) {
      err(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const stop = new Promise<number>((resolve) => {
    const onSignal = () => {
      resolve(running.shutdown());
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  return stop;
}

/**
 * Run `npuser serve …` or `npuser keys create …` (`args` as after `npuser`)
 * and exit with its code.
 * @internal
 */
export async function runServeCommand(args: readonly string[]): Promise<void> {
  const out: Write = (text) => void process.stdout.write(text);
  const err: Write = (text) => void process.stderr.write(text);
  let code: number;
  try {
    code = args[0] === 'serve' ? await serve(args.slice(1), out, err) : keysCreate(args.slice(2), out, err);
  } catch (error) {
    err(`npuser: ${error instanceof Error ? error.message : String(error)}\n`);
    code = 1;
  }
  process.exitCode = code;
  // Whatever a peer left running (a reconnect timer) must not hold the process once it is done.
  if (args[0] === 'serve') setTimeout(() => process.exit(code), 100).unref();
}
