import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { NpUser, isNpUserError, type NpUserEvent, type NpUserOptions } from 'npuser';
import { memoryMailer, type MemoryMailer } from 'npuser/testing';
import { redisCodeStore } from 'npuser/stores/redis';
import { SECRET, wrongCode } from '../support/helpers.js';
import { REDIS_URL, connect, deleteKeys, logCommands, probeRedis, scanKeys, tally, testPrefix } from '../support/redis.js';

// NpUser on a real Redis, as two app servers would run it: each its own
// NpUser and its own ioredis client, one Redis between them.

const reachable = await probeRedis();

/** One "app server": an NpUser with its own client, all sharing `prefix` and one mailer. */
interface AppServer {
  np: NpUser;
  client: Redis;
  events: NpUserEvent[];
}

describe.skipIf(!reachable)('NpUser on a shared Redis', () => {
  const prefixes: string[] = [];
  const clients: Redis[] = [];
  let admin: Redis;

  beforeAll(async () => {
    admin = await connect();
  });

  afterAll(async () => {
    for (const client of clients) client.disconnect();
    for (const prefix of prefixes) {
      await deleteKeys(admin, prefix);
      expect(await scanKeys(admin, prefix)).toEqual([]);
    }
    await admin.quit();
  });

  /** A fresh prefix for one test, cleaned up in afterAll. */
  function freshPrefix(label: string): string {
    const prefix = testPrefix(label);
    prefixes.push(prefix);
    return prefix;
  }

  async function appServer(prefix: string, mailer: MemoryMailer, options: Partial<NpUserOptions> = {}): Promise<AppServer> {
    const client = await connect();
    clients.push(client);
    const events: NpUserEvent[] = [];
    const np = new NpUser({
      secret: SECRET,
      mailer,
      store: redisCodeStore({ client, keyPrefix: prefix }),
      storeTimeoutMs: 5000,
      onEvent: (event) => void events.push(event),
      ...options,
    });
    return { np, client, events };
  }

  function codeFor(mailer: MemoryMailer, email: string): string {
    const code = mailer.lastCodeFor(email);
    if (code === undefined) throw new Error(`no code mailed to ${email}`);
    return code;
  }

  const errorCode = (err: unknown) => (isNpUserError(err) ? err.code : err);

  it('after a long run of requests, guesses, sign-ins, limits and client keys, every key has a TTL and none holds an address or a code', async () => {
    const prefix = freshPrefix('sequence');
    const mailer = memoryMailer();
    const a = await appServer(prefix, mailer);
    const strict = await appServer(prefix, mailer, {
      maxFailuresPerDay: 2,
      resendCooldownSeconds: 0,
      maxCodesPerHour: 2,
      maxCodesPerClientPerHour: 3,
    });
    const failingMailer = await appServer(prefix, { ...memoryMailer(), send: () => Promise.reject(new Error('smtp down')) });
    const clientKeys = ['203.0.113.7', '198.51.100.23', 'device-4f1c'];
    const addresses: string[] = [];
    const expect_ = async (promise: Promise<unknown>, code: string) => {
      expect(await promise.then(() => 'ok', errorCode)).toBe(code);
    };

    for (let i = 0; i < 6; i += 1) {
      const email = `person${i}.sequence@example.com`;
      addresses.push(email);
      const context = { clientKey: clientKeys[i % clientKeys.length]! };
      await a.np.requestCode(email, context);
      const code = codeFor(mailer, email);
      await expect_(a.np.verifyCode(email, wrongCode(code), context), 'ERR_NPUSER_INVALID_CODE');
      await expect_(a.np.requestCode(email, context), 'ERR_NPUSER_RATE_LIMITED'); // cooldown
      if (i % 2 === 0) {
        const { token } = await a.np.verifyCode(email, code, context);
        await expect_(a.np.verifyCode(email, code, context), 'ERR_NPUSER_INVALID_CODE'); // single use
        if (i === 0) {
          await a.np.revokeToken(token); // sign-out: the token's id is kept until it would expire
          await expect_(a.np.validateToken(token), 'ERR_NPUSER_INVALID_TOKEN');
        }
      } else {
        for (let j = 0; j < 4; j += 1) await a.np.verifyCode(email, wrongCode(code), context).catch(() => undefined);
        await expect_(a.np.verifyCode(email, code, context), 'ERR_NPUSER_TOO_MANY_ATTEMPTS'); // burned
      }
    }
    // A locked address, an hourly limit and a client budget on the strict server.
    const locked = 'locked.sequence@example.com';
    addresses.push(locked);
    await strict.np.requestCode(locked);
    for (let j = 0; j < 2; j += 1) await strict.np.verifyCode(locked, wrongCode(codeFor(mailer, locked))).catch(() => undefined);
    await expect_(strict.np.requestCode(locked), 'ERR_NPUSER_ADDRESS_LOCKED');
    const hourly = 'hourly.sequence@example.com';
    addresses.push(hourly);
    await strict.np.requestCode(hourly);
    await strict.np.requestCode(hourly);
    await expect_(strict.np.requestCode(hourly), 'ERR_NPUSER_RATE_LIMITED');
    for (let j = 0; j < 4; j += 1) {
      const email = `client${j}.sequence@example.com`;
      addresses.push(email);
      await expect_(strict.np.requestCode(email, { clientKey: 'sprayer-9' }), j < 3 ? 'ok' : 'ERR_NPUSER_RATE_LIMITED');
    }
    clientKeys.push('sprayer-9');
    // A failed send deletes the code; the counters stay, with their TTLs.
    const unsent = 'unsent.sequence@example.com';
    addresses.push(unsent);
    await expect_(failingMailer.np.requestCode(unsent, { clientKey: 'device-4f1c' }), 'ERR_NPUSER_MAILER_FAILED');

    const keys = await scanKeys(admin, prefix);
    expect(keys.length).toBeGreaterThan(30);
    const pipeline = admin.pipeline();
    for (const key of keys) pipeline.pttl(key).get(key);
    const replies = (await pipeline.exec()) ?? [];
    const codes = mailer.messages.map((m) => m.code);
    const now = Date.now();
    for (const [index, key] of keys.entries()) {
      const [pttlError, pttl] = replies[index * 2]!;
      const [valueError, value] = replies[index * 2 + 1]!;
      expect(pttlError ?? valueError).toBeNull();
      expect(pttl, key).toBeGreaterThan(0);
      // Keys: the prefix, npuser's hash tag and a kind; nothing else.
      expect(key.slice(prefix.length)).toMatch(
        /^\{[A-Za-z0-9_-]{43}\}:(code|attempts|failures|cooldown|hourly|client-requests|client-verifications|revoked:[A-Za-z0-9_-]{43}|revoked-before)$/,
      );
      // Values: a small counter, or a code record (version, id, expiry, digest).
      const text = String(value);
      const record = /^v1\.([A-Za-z0-9_-]{16})\.([0-9]{13})\.([A-Za-z0-9_-]{43})$/.exec(text);
      if (record === null) expect(text, key).toMatch(/^[0-9]{1,3}$/);
      else expect(Math.abs(Number(record[2]) - now)).toBeLessThan(3_600_000);
      // The record's expiry is a timestamp whose digits may contain a code by chance; the rest may not.
      const checked = `${key.slice(prefix.length)} ${record === null ? text : `${record[1]!} ${record[3]!}`}`;
      for (const secret of [...addresses, ...addresses.map((e) => e.split('@')[0]!), ...clientKeys]) {
        expect(checked.toLowerCase()).not.toContain(secret.toLowerCase());
      }
      for (const code of codes) expect(checked).not.toContain(code);
    }
  });

  it('two app servers share one Redis: a code requested on one verifies on the other; attempts and send limits are shared', async () => {
    const prefix = freshPrefix('two-servers');
    const mailer = memoryMailer();
    const a = await appServer(prefix, mailer);
    const b = await appServer(prefix, mailer);

    // Requested on A, verified on B, the token accepted by A.
    const email = 'shared@example.com';
    await a.np.requestCode(email);
    const { token, subject } = await b.np.verifyCode(email, codeFor(mailer, email));
    expect((await a.np.validateToken(token)).subject).toBe(subject);

    // Wrong guesses on both servers count against one budget of 5.
    const guessed = 'guessed@example.com';
    await a.np.requestCode(guessed);
    const code = codeFor(mailer, guessed);
    const answers: unknown[] = [];
    for (const server of [a, b, a, b, a]) answers.push(await server.np.verifyCode(guessed, wrongCode(code)).catch(errorCode));
    expect(answers).toEqual([...Array<string>(4).fill('ERR_NPUSER_INVALID_CODE'), 'ERR_NPUSER_TOO_MANY_ATTEMPTS']);
    expect(await b.np.verifyCode(guessed, code).catch(errorCode)).toBe('ERR_NPUSER_TOO_MANY_ATTEMPTS');

    // A's cooldown refuses on B, with the time left.
    const cooled = 'cooled@example.com';
    await a.np.requestCode(cooled);
    const refused = await b.np.requestCode(cooled).catch((err: unknown) => err);
    expect(isNpUserError(refused, 'ERR_NPUSER_RATE_LIMITED')).toBe(true);
    expect((refused as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThan(55);
    expect(b.events.at(-1)).toMatchObject({ type: 'rate.limited', reason: 'cooldown' });
    expect(mailer.messages.filter((m) => m.to === cooled)).toHaveLength(1);
  });

  it('1 000 concurrent wrong guesses spread over two servers evaluate at most maxAttempts', async () => {
    const prefix = freshPrefix('wrong-guesses');
    const mailer = memoryMailer();
    const servers = [await appServer(prefix, mailer), await appServer(prefix, mailer)] as const;
    const email = 'target@example.com';
    await servers[0].np.requestCode(email);
    const wrong = wrongCode(codeFor(mailer, email));

    const results = await Promise.allSettled(Array.from({ length: 1000 }, (_, i) => servers[i % 2]!.np.verifyCode(email, wrong)));
    expect(results.every((r) => r.status === 'rejected' && isNpUserError(r.reason))).toBe(true);

    // Every try is counted on the address's attempt counter before anything is
    // compared; only the first maxAttempts are compared, and each of those, wrong,
    // adds one failure. Refused tries add none.
    const events = [...servers[0].events, ...servers[1].events];
    const failuresKey = (await scanKeys(admin, prefix)).find((key) => key.endsWith(':failures'));
    expect(Number(await admin.get(failuresKey ?? 'missing'))).toBe(5);
    expect(events.filter((e) => e.reason === 'wrong-code')).toHaveLength(4);
    expect(events.some((e) => e.type === 'code.verified')).toBe(false);
  });

  it('50 concurrent correct verifies spread over two servers yield exactly one token', async () => {
    const prefix = freshPrefix('correct');
    const mailer = memoryMailer();
    // maxAttempts 10: the most a code allows. The 40 submissions past it burn the code.
    const servers = [await appServer(prefix, mailer, { maxAttempts: 10 }), await appServer(prefix, mailer, { maxAttempts: 10 })] as const;
    const email = 'winner@example.com';
    await servers[1].np.requestCode(email);
    const code = codeFor(mailer, email);
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => servers[i % 2]!.np.verifyCode(email, code)));
    const tokens = results.filter((r) => r.status === 'fulfilled');
    expect(tokens).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(isNpUserError(r.reason)).toBe(true);
    expect([...servers[0].events, ...servers[1].events].filter((e) => e.type === 'code.verified')).toHaveLength(1);
  });

  it('store round trips per call: counted on the client and confirmed by MONITOR on the server', async () => {
    const prefix = freshPrefix('round-trips');
    const mailer = memoryMailer();
    const server = await appServer(prefix, mailer);
    const log = logCommands(server.client);
    // The server's view: MONITOR on its own connection, filtered to this client's address.
    const info = await server.client.client('INFO');
    const address = /addr=(\S+)/.exec(info)?.[1];
    if (address === undefined) throw new Error(`no addr in CLIENT INFO: ${info}`);
    const monitorHost = await connect(REDIS_URL, { enableOfflineQueue: true });
    const monitor = await monitorHost.monitor();
    const seen: string[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source === address) seen.push(String(args[0]).toLowerCase());
    });

    /** Run `call` and return the commands it sent, as the client logged and the server saw them. */
    async function commandsOf(call: () => Promise<unknown>): Promise<{ client: Record<string, number>; server: number }> {
      log.reset();
      seen.length = 0;
      await call().catch(() => undefined);
      const client = tally(log.names);
      const sent = log.names.length;
      // A marker, so we know MONITOR has caught up with everything before it.
      const marker = `npuser-marker-${Math.random()}`;
      await server.client.echo(marker);
      const deadline = Date.now() + 5000;
      while (seen.length < sent + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      return { client, server: seen.length - 1 };
    }

    const ctx = { clientKey: '192.0.2.1' };
    let token = '';
    const results = {
      requestCode: await commandsOf(() => server.np.requestCode('trips@example.com')),
      'requestCode with clientKey': await commandsOf(() => server.np.requestCode('trips-client@example.com', ctx)),
      'verifyCode, wrong code': await commandsOf(() =>
        server.np.verifyCode('trips@example.com', wrongCode(codeFor(mailer, 'trips@example.com'))),
      ),
      'verifyCode, wrong code, with clientKey': await commandsOf(() =>
        server.np.verifyCode('trips-client@example.com', wrongCode(codeFor(mailer, 'trips-client@example.com')), ctx),
      ),
      'verifyCode, no code pending': await commandsOf(() =>
        server.np.verifyCode('trips-none@example.com', '123456').catch(() => undefined),
      ),
      'verifyCode, no code pending, with clientKey': await commandsOf(() =>
        server.np.verifyCode('trips-none@example.com', '123456', ctx).catch(() => undefined),
      ),
      'verifyCode, right code': await commandsOf(() => server.np.verifyCode('trips@example.com', codeFor(mailer, 'trips@example.com'))),
      'verifyCode, right code, with clientKey': await commandsOf(async () => {
        token = (await server.np.verifyCode('trips-client@example.com', codeFor(mailer, 'trips-client@example.com'), ctx)).token;
      }),
      validateToken: await commandsOf(() => server.np.validateToken(token)),
      revokeToken: await commandsOf(() => server.np.revokeToken(token)),
    };
    log.restore();
    monitor.disconnect();
    monitorHost.disconnect();

    // What np-user.ts does: each flow is one or two store transactions, each one command
    // (one Lua script) on a standalone server; docs/scaling-with-redis.md lists the same numbers.
    expect(Object.fromEntries(Object.entries(results).map(([name, r]) => [name, r.client]))).toEqual({
      // lock, cooldown, (client,) cooldown, hourly, attempts reset, code: one transaction
      requestCode: { 'script:transact': 1 },
      'requestCode with clientKey': { 'script:transact': 1 },
      // lock, (client,) code, attempt | the failure counted
      'verifyCode, wrong code': { 'script:transact': 2 },
      'verifyCode, wrong code, with clientKey': { 'script:transact': 2 },
      // exactly the same work as a wrong code
      'verifyCode, no code pending': { 'script:transact': 2 },
      'verifyCode, no code pending, with clientKey': { 'script:transact': 2 },
      // lock, (client,) code, attempt | consume the code compared, remove the attempt counter
      'verifyCode, right code': { 'script:transact': 2 },
      'verifyCode, right code, with clientKey': { 'script:transact': 2 },
      // the token's revocation and the subject's, read together
      validateToken: { 'script:transact': 1 },
      // set revoked
      revokeToken: { set: 1 },
    });
    // Each command the client sent is one the server executed: no hidden retries or extra reads.
    for (const [name, r] of Object.entries(results)) {
      expect(r.server, name).toBe(Object.values(r.client).reduce((a, b) => a + b, 0));
    }
  });
});
