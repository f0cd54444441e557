// `npm run example:service-client`: the npuser service for one app, with an API key made just now,
// then the app (server.js) that signs in through it. Ctrl-C stops both; so does either one ending.
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const NPUSER = fileURLToPath(new URL('../../bin/npuser.js', import.meta.url)); // `npx npuser` in your own project
const APP_ID = 'service-client';

// 1. A new API key, as `npuser keys create` prints it: the key is for the app, its SHA-256 for the
//    service. It lives in these processes' environments only, so every start makes a new one.
/** @type {unknown} */
const created = JSON.parse(execFileSync(process.execPath, [NPUSER, 'keys', 'create', '--app', APP_ID, '--json'], { encoding: 'utf8' }));
const { key, entry } = /** @type {{ key: string, entry: { sha256: string } }} */ (created);

// 2. The service, configured from the environment alone: codes in memory, mail printed to stderr
//    (this terminal). What would point it at a file, Redis or SMTP is left out.
const service = spawn(process.execPath, [NPUSER, 'serve'], {
  env: {
    ...process.env,
    NPUSER_CONFIG: undefined,
    REDIS_URL: undefined,
    SMTP_URL: undefined,
    HOST: '127.0.0.1',
    PORT: '0', // any free port: the app is told which
    NPUSER_APP_ID: APP_ID,
    NPUSER_APP_NAME: 'Service client example',
    NPUSER_SECRET: process.env.NPUSER_SECRET || randomBytes(32).toString('base64'),
    NPUSER_API_KEYS: entry.sha256,
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});

/** @type {import('node:child_process').ChildProcess | undefined} */
let app;
let stopping = false;
const stop = () => {
  stopping = true;
  service.kill('SIGTERM');
  app?.kill('SIGTERM');
};
/** @param {import('node:child_process').ChildProcess} child @param {string} name */
const stopWith = (child, name) =>
  child.once('exit', (code, signal) => {
    if (stopping) return;
    console.error(`${name} stopped (${code ?? signal ?? ''}): stopping the example`);
    process.exitCode = code || 1;
    stop();
  });
stopWith(service, 'npuser serve');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);

// 3. The service's log, one JSON line per call the app makes; once it listens, the app.
createInterface({ input: service.stdout }).on('line', (line) => {
  console.log(line);
  if (app !== undefined || stopping || !line.includes('"event":"listening"')) return;
  /** @type {unknown} */
  const listening = JSON.parse(line);
  const { port } = /** @type {{ port: number }} */ (listening);
  const baseUrl = `http://127.0.0.1:${String(port)}`;
  console.log(`npuser service: ${baseUrl}`);
  app = spawn(process.execPath, [fileURLToPath(new URL('server.js', import.meta.url))], {
    env: { ...process.env, NPUSER_SECRET: undefined, NPUSER_URL: baseUrl, NPUSER_API_KEY: key },
    stdio: 'inherit',
  });
  stopWith(app, 'the app');
});
