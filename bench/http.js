// @ts-check
// The service's load run: `POST /v1/validate-token` through `npuser serve`
// (memory store) next to a bare node:http handler, the ceiling, both driven
// by autocannon on loopback in the same run. Each server is its own process,
// so neither shares a core's event loop with autocannon. Bounded: ROUNDS
// interleaved rounds of SECONDS each per target (about 20 s with the defaults).
//
//   npm run build && node bench/http.js
//
// Prints one JSON line per target, `{ name, opsPerSec, rounds, spread }`
// (median requests per second over the rounds, and (max − min) / median),
// then the ratio of the two.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const SECONDS = Number(process.env.BENCH_HTTP_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_HTTP_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_HTTP_CONNECTIONS ?? 10);

if (process.argv[2] === '--bare-server') {
  // The ceiling: node:http reading a small JSON body and answering a small JSON body, nothing else.
  const server = createServer((req, res) => {
    const chunks = /** @type {Buffer[]} */ ([]);
    req.on('data', (/** @type {Buffer} */ chunk) => chunks.push(chunk));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end('{"active":true}');
    });
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.stdout.write(
      `${JSON.stringify({ event: 'listening', port: typeof address === 'object' && address !== null ? address.port : 0 })}\n`,
    );
  });
  process.once('SIGTERM', () => {
    server.close(() => process.exit(0));
  });
} else {
  await main();
}

/**
 * @param {string[]} args
 * @param {Record<string, string>} env
 * @returns {Promise<{ url: string, stop: () => Promise<void> }>}
 */
function startProcess(args, env) {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (/** @type {Buffer} */ chunk) => {
      buffered += chunk.toString('utf8');
      const line = buffered.split('\n').find((l) => l.includes('"listening"'));
      if (line === undefined) return;
      // Access logs are not read: drained so the pipe never fills.
      child.stdout.off('data', onData);
      child.stdout.resume();
      // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- the server's own start-up line
      const { port } = /** @type {{ port: number }} */ (JSON.parse(line));
      resolve({
        url: `http://127.0.0.1:${port}`,
        stop: () =>
          new Promise((done) => {
            child.once('exit', () => {
              done();
            });
            child.kill('SIGTERM');
          }),
      });
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      reject(new Error(`${args.join(' ')} exited with ${String(code)} before listening`));
    });
  });
}

/**
 * @param {string} url
 * @param {Record<string, string>} headers
 * @param {string} body
 */
async function measure(url, headers, body) {
  const result = await autocannon({ url, method: 'POST', headers, body, connections: CONNECTIONS, duration: SECONDS });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${url}: ${result.non2xx} non-2xx answers and ${result.errors} errors`);
  return result.requests.average;
}

/** @param {number[]} values */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

async function main() {
  const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
  const key = `npu_test_${randomBytes(32).toString('base64url')}`;
  const config = {
    apps: [
      {
        id: 'bench',
        mode: 'test',
        secretEnv: 'BENCH_SECRET',
        apiKeys: [{ id: 'k1', sha256: createHash('sha256').update(key).digest('hex') }],
      },
    ],
    // The quota is counted on every request; set far above what the run makes.
    quota: { requests: 1_000_000_000, windowSeconds: 3600 },
  };
  const service = await startProcess([cli, 'serve'], {
    NODE_ENV: 'development',
    PORT: '0',
    HOST: '127.0.0.1',
    BENCH_SECRET: randomBytes(32).toString('base64'),
    NPUSER_CONFIG: JSON.stringify(config),
    REDIS_URL: '',
    SMTP_URL: '',
  });
  const bare = await startProcess([fileURLToPath(import.meta.url), '--bare-server'], {});
  try {
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const post = async (/** @type {string} */ path, /** @type {unknown} */ body) => {
      const response = await fetch(service.url + path, { method: 'POST', headers, body: JSON.stringify(body) });
      if (!response.ok) throw new Error(`${path} answered ${response.status}`);
      // eslint-disable-next-line @typescript-eslint/no-unsafe-return -- the service's answer, as the handler tests pin it
      return /** @type {Record<string, string>} */ (await response.json());
    };
    const { code } = await post('/v1/request-code', { email: 'bench@example.com' });
    const { token } = await post('/v1/verify-code', { email: 'bench@example.com', code });
    const body = JSON.stringify({ token });
    // A short warm-up of each, so the JIT has seen both before anything counts.
    await autocannon({ url: `${service.url}/v1/validate-token`, method: 'POST', headers, body, connections: CONNECTIONS, duration: 1 });
    await autocannon({ url: bare.url, method: 'POST', headers, body, connections: CONNECTIONS, duration: 1 });

    /** @type {Record<string, number[]>} */
    const runs = { 'bare node:http (ceiling)': [], 'npuser serve: POST /v1/validate-token': [] };
    for (let round = 0; round < ROUNDS; round += 1) {
      runs['bare node:http (ceiling)']?.push(await measure(bare.url, headers, body));
      runs['npuser serve: POST /v1/validate-token']?.push(await measure(`${service.url}/v1/validate-token`, headers, body));
    }
    /** @type {Record<string, number>} */
    const medians = {};
    for (const [name, values] of Object.entries(runs)) {
      const opsPerSec = median(values);
      medians[name] = opsPerSec;
      const spread = opsPerSec === 0 ? 0 : (Math.max(...values) - Math.min(...values)) / opsPerSec;
      process.stdout.write(
        `${JSON.stringify({ name, opsPerSec: Math.round(opsPerSec), rounds: values.length, spread: Number(spread.toFixed(3)) })}\n`,
      );
    }
    const ratio = (medians['npuser serve: POST /v1/validate-token'] ?? 0) / (medians['bare node:http (ceiling)'] ?? 1);
    process.stdout.write(`${JSON.stringify({ name: 'validate-token / bare node:http', ratio: Number(ratio.toFixed(3)) })}\n`);
  } finally {
    await Promise.all([service.stop(), bare.stop()]);
  }
}
