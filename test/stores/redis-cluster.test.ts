import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from 'ioredis';
import { NpUser, type StoreStep } from 'npuser';
import { memoryMailer, runCodeStoreContract } from 'npuser/testing';
import { redisCodeStore } from 'npuser/stores/redis';
import { SECRET, wrongCode } from '../support/helpers.js';
import { allKeys, deleteKeys, logCommands, scanKeys, tally, testPrefix } from '../support/redis.js';
import { keySlot } from '../../src/stores/redis-slot.js';
import { type RedisServer, haveRedisBinaries, redisCli, startRedisServer } from '../support/redis-server.js';

// A real three-master Redis Cluster on spare ports, built for this file and
// torn down after it: the contract through an ioredis Cluster client, and a
// full sign-in whose keys all land in one slot thanks to npuser's hash tag.

const canRun = haveRedisBinaries();

describe.skipIf(!canRun)('redisCodeStore on a Redis Cluster', () => {
  const prefix = testPrefix('cluster');
  // The sign-in gets its own prefix: the contract's short-lived keys must not mix with it.
  const signInPrefix = testPrefix('cluster-sign-in');
  let dir: string;
  const servers: RedisServer[] = [];
  let cluster: Cluster;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'npuser-cluster-'));
    for (let i = 0; i < 3; i += 1) {
      servers.push(
        await startRedisServer(
          (port) => [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            join(dir, `nodes-${port}.conf`),
            '--cluster-node-timeout',
            '2000',
          ],
          { dir },
        ),
      );
    }
    await redisCli(['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', '0', '--cluster-yes']);
    // Every node must agree the cluster is whole before a client trusts its slot map.
    const deadline = Date.now() + 20_000;
    for (const server of servers) {
      while (!(await redisCli(['-p', String(server.port), 'cluster', 'info'])).includes('cluster_state:ok')) {
        if (Date.now() > deadline) throw new Error('the cluster did not reach cluster_state:ok within 20 s');
        await sleep(100);
      }
    }
    cluster = new Cluster(
      servers.map((s) => ({ host: '127.0.0.1', port: s.port })),
      {
        enableOfflineQueue: false,
        scaleReads: 'master',
        lazyConnect: true,
        redisOptions: { commandTimeout: 2000, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false },
      },
    );
    cluster.on('error', () => undefined);
    await cluster.connect();
  });

  afterAll(async () => {
    try {
      if (cluster.status === 'ready') {
        for (const p of [prefix, signInPrefix]) {
          await deleteKeys(cluster, p);
          expect(await allKeys(cluster, p)).toEqual([]);
        }
      }
    } finally {
      cluster.disconnect();
      for (const server of servers) await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  runCodeStoreContract(
    'redisCodeStore on a Cluster',
    () => redisCodeStore({ client: cluster, keyPrefix: prefix }),
    { describe, it },
    {
      realTime: true,
      removeExpiry: (key) => cluster.persist(prefix + key),
    },
  );

  it('the store computes slots as the cluster does', async () => {
    const keys = [
      'plain',
      '{a}:b',
      'x{}y',
      '{}{a}',
      'foo{bar}{zap}',
      '{user1000}.following',
      'ünïcode{tag}',
      `${prefix}{contract-AbC}:code`,
    ];
    for (const key of keys) expect(keySlot(key), key).toBe(await cluster.cluster('KEYSLOT', key));
  });

  it('transact: steps split into runs of one slot, one script each, in order, none after a run that stopped', async () => {
    const store = redisCodeStore({ client: cluster, keyPrefix: prefix });
    // An address and a client, as requestCode sends them: two tags, in different slots.
    const address = (kind: string) => `{address-tx}:${kind}`;
    const client = (kind: string) => `{client-tx}:${kind}`;
    expect(keySlot(prefix + address('code'))).not.toBe(keySlot(prefix + client('client-requests')));
    const steps: StoreStep[] = [
      { op: 'get', key: address('failures'), stopIfCountAtLeast: 3 },
      { op: 'get', key: address('cooldown'), stopIfPresent: true },
      { op: 'increment', key: client('client-requests'), ttlMs: 60_000, stopIfCountAbove: 1 },
      { op: 'increment', key: address('cooldown'), ttlMs: 60_000 },
      { op: 'set', key: address('code'), value: 'v1.code', ttlMs: 60_000 },
    ];
    const log = logCommands(cluster);
    try {
      const first = await store.transact!(steps);
      expect(first).toEqual([undefined, undefined, { count: 1, ttlMs: 60_000 }, { count: 1, ttlMs: 60_000 }, undefined]);
      // Three runs: the address's gets, the client's increment, the address's writes.
      expect(tally(log.names)).toEqual({ 'script:transact': 3 });
      log.reset();
      // The cooldown now stops the first run: nothing after it is sent.
      expect(await store.transact!(steps)).toEqual([undefined, { value: '1', ttlMs: expect.any(Number) as number }]);
      expect(tally(log.names)).toEqual({ 'script:transact': 1 });
      await store.delete(address('cooldown'));
      log.reset();
      // The client's counter stops the second run: the third is never sent.
      expect(await store.transact!(steps)).toHaveLength(3);
      expect(tally(log.names)).toEqual({ 'script:transact': 2 });
      expect(await store.get(address('cooldown'))).toBeUndefined();
    } finally {
      log.restore();
      for (const key of [address('failures'), address('cooldown'), address('code'), client('client-requests')]) await store.delete(key);
    }
  });

  it('signs in over the cluster; all keys of one address share a slot, and addresses spread over the masters', async () => {
    const mailer = memoryMailer();
    const np = new NpUser({
      secret: SECRET,
      mailer,
      store: redisCodeStore({ client: cluster, keyPrefix: signInPrefix }),
      storeTimeoutMs: 3000,
    });
    const ctx = { clientKey: '203.0.113.50' };

    // One address, every kind of key: code, attempts, cooldown, hourly, failures, client counters.
    await np.requestCode('ada@example.com', ctx);
    const code = mailer.lastCodeFor('ada@example.com')!;
    await expect(np.verifyCode('ada@example.com', wrongCode(code), ctx)).rejects.toMatchObject({ code: 'ERR_NPUSER_INVALID_CODE' });
    const before = await allKeys(cluster, signInPrefix);
    const adaTag = /^[^{]*(\{[^}]+\})/.exec(before.find((k) => k.endsWith(':code'))!)![1]!;
    const adaKeys = before.filter((k) => k.includes(adaTag));
    expect(adaKeys.map((k) => k.slice(k.indexOf('}:') + 2)).sort()).toEqual(
      ['attempts', 'code', 'cooldown', 'failures', 'hourly'].map((kind): unknown => expect.stringMatching(new RegExp(`^${kind}`))),
    );
    const slots = new Set(await Promise.all(adaKeys.map((k) => cluster.cluster('KEYSLOT', k))));
    expect(slots.size).toBe(1);

    const { token, subject } = await np.verifyCode('ada@example.com', code, ctx);
    expect((await np.validateToken(token)).subject).toBe(subject);
    // Consumed, and its attempt counter gone with it; the failures stay for their day.
    expect(
      (await allKeys(cluster, signInPrefix))
        .filter((k) => k.includes(adaTag))
        .map((k) => k.slice(k.indexOf('}:') + 2))
        .sort(),
    ).toEqual(['cooldown', 'failures', 'hourly']);

    // Many addresses: their slots, hence their masters, differ.
    for (let i = 0; i < 12; i += 1) await np.requestCode(`user${i}@example.com`);
    const perNode = await Promise.all(cluster.nodes('master').map(async (node) => (await scanKeys(node, signInPrefix)).length > 0));
    expect(perNode.filter(Boolean).length).toBeGreaterThan(1);
  });
});
