// The built npuser/http loads no framework it has an adapter for (Fastify's is a type only): only
// what the core itself loads, since the service builds its apps' NpUser instances (lru-cache
// and the Node.js built-ins that Bun and Deno also provide).
import { isBuiltin } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DIST, assertBuilt, bareSpecifiers } from '../support/dist.js';

const CORE_DEPENDENCIES = new Set(['lru-cache']);

describe('dist/http', () => {
  it.each(['http/index.js', 'http/index.cjs'])(
    '%s and the chunks it reaches load no framework, only the core’s dependencies and built-ins',
    (file) => {
      assertBuilt([file]);
      const foreign = [...bareSpecifiers(join(DIST, file))].filter(
        (specifier) => !isBuiltin(specifier) && !CORE_DEPENDENCIES.has(specifier),
      );
      expect(foreign).toEqual([]);
    },
  );
});
