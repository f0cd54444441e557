import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { DIST, ROOT, assertBuilt, bareSpecifiers } from '../support/dist.js';
import { connect, deleteKeys, probeRedis, testPrefix } from '../support/redis.js';

// The built npuser/stores/redis, as users load it (`npm test` and the verify
// steps build first). ioredis is an optional peer: the built files may only
// name it in type declarations, never load it.

type RedisModule = typeof import('npuser/stores/redis');

const dist = join(DIST, 'stores', 'redis');
const reachable = await probeRedis();

describe('dist: npuser/stores/redis', () => {
  beforeAll(() => {
    assertBuilt(['index.js', 'index.cjs', 'index.d.ts', 'index.d.cts'].map((file) => `stores/redis/${file}`));
  });

  it('never loads ioredis (nor anything but Node builtins) at runtime, in ESM or CJS', () => {
    for (const file of ['index.js', 'index.cjs']) {
      const specifiers = [...bareSpecifiers(join(dist, file))];
      expect(
        specifiers.filter((s) => s === 'ioredis' || s.startsWith('ioredis/')),
        file,
      ).toEqual([]);
      expect(
        specifiers.filter((s) => !isBuiltin(s)),
        `${file} loads a package`,
      ).toEqual([]);
    }
  });

  it('names ioredis only as types in its declarations', () => {
    for (const file of ['index.d.ts', 'index.d.cts']) {
      const text = readFileSync(join(dist, file), 'utf8');
      expect(text, file).toMatch(/import[^;]*\bfrom ['"]ioredis['"]/);
      expect(text, file).toMatch(/redisCodeStore/);
    }
  });

  it('loads in a Node process that cannot resolve ioredis, as ESM and as CJS', () => {
    // A child process with ioredis made unresolvable: if the build loaded it, this would throw.
    const script = `
      const Module = require('node:module');
      const resolveFilename = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === 'ioredis' || request.startsWith('ioredis/')) throw new Error('ioredis was loaded');
        return resolveFilename.call(this, request, ...rest);
      };
      const cjs = require(${JSON.stringify(join(dist, 'index.cjs'))});
      import(${JSON.stringify(pathToFileURL(join(dist, 'index.js')).href)}).then((esm) => {
        console.log(JSON.stringify({ cjs: Object.keys(cjs).sort(), esm: Object.keys(esm).sort() }));
      });`;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: ROOT });
    expect(JSON.parse(out)).toEqual({ cjs: ['redisCodeStore'], esm: ['redisCodeStore'] });
  });

  describe.skipIf(!reachable)('on a real Redis', () => {
    const prefix = testPrefix('dist');
    let client: Redis;

    beforeAll(async () => {
      client = await connect();
    });

    afterAll(async () => {
      await deleteKeys(client, prefix);
      await client.quit();
    });

    it('the ESM and CJS builds both work with the app’s ioredis client', async () => {
      const esm = (await import(pathToFileURL(join(dist, 'index.js')).href)) as RedisModule;
      const cjs = createRequire(import.meta.url)(join(dist, 'index.cjs')) as RedisModule;
      for (const [name, build] of [
        ['esm', esm],
        ['cjs', cjs],
      ] as const) {
        const store = build.redisCodeStore({ client, keyPrefix: prefix });
        await store.set(`{${name}}:code`, 'v', 60_000);
        expect((await store.increment(`{${name}}:hourly`, 60_000)).count).toBe(1);
        expect((await store.get(`{${name}}:code`))?.value).toBe('v');
        expect(await store.consume(`{${name}}:code`)).toBe('v');
      }
    });
  });
});
