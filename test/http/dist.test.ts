// The built npuser/http: web-standard, so Bun and Deno run it as it is, and no framework it has
// an adapter for is loaded by it (Fastify's is a type only).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DIST, assertBuilt, bareSpecifiers } from '../support/dist.js';

describe('dist/http', () => {
  it.each(['http/index.js', 'http/index.cjs'])('%s and the chunks it reaches import no module: no Node.js built-in, no framework', (file) => {
    assertBuilt([file]);
    expect([...bareSpecifiers(join(DIST, file))]).toEqual([]);
  });
});
