// npuser verifies its tokens with node:crypto (src/token.ts); jose's jwtVerify,
// as npuser used it before, is kept as the reference (test/support/jose-token.ts).
// Both must give the same verdict on every token: the same result, or the same
// error. The one difference allowed is npuser refusing what it never writes and
// jose accepted: a segment in a non-canonical base64url spelling, or a `crit`
// header. The whole token suite also runs against both (vitest.config.ts).
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { NpUserError } from 'npuser';
import { deriveKeys } from '../../src/lib/keys.js';
import { resolveSigningKeys } from '../../src/lib/signing-keys.js';
import { type TokenSettings, signToken, tokenSettings, verifyToken } from '../../src/token.js';
import { verifyToken as joseVerifyToken } from '../support/jose-token.js';
import { SECRET } from '../support/helpers.js';

type Alg = 'HS256' | 'EdDSA' | 'ES256';

const hmac = deriveKeys(new TextEncoder().encode(SECRET), undefined).signing;
const ed = [generateKeyPairSync('ed25519'), generateKeyPairSync('ed25519')] as const;
const ec = [generateKeyPairSync('ec', { namedCurve: 'P-256' }), generateKeyPairSync('ec', { namedCurve: 'P-256' })] as const;
const base = {
  issuer: 'npuser',
  audience: 'npuser',
  ttlSeconds: 3600,
  maxSessionSeconds: 30 * 86_400,
  clockToleranceSeconds: 30,
  cacheSize: 0,
};
// Two keys each for EdDSA and ES256: the second verifies only, so kid selection is compared too.
const SETTINGS: Record<Alg, TokenSettings> = {
  HS256: tokenSettings({ ...base, hmacKey: hmac, signingKeys: undefined }),
  EdDSA: tokenSettings({
    ...base,
    hmacKey: hmac,
    signingKeys: resolveSigningKeys([
      { kid: 'ed-1', key: ed[0].privateKey },
      { kid: 'ed-2', key: ed[1].publicKey },
    ]),
  }),
  ES256: tokenSettings({
    ...base,
    hmacKey: hmac,
    signingKeys: resolveSigningKeys([
      { kid: 'ec-1', key: ec[0].privateKey },
      { kid: 'ec-2', key: ec[1].publicKey },
    ]),
  }),
};
const KID: Record<Alg, string | undefined> = { HS256: undefined, EdDSA: 'ed-1', ES256: 'ec-1' };

/** The signature of `input` with `alg` and a key of its kind (the configured one, or a stranger). */
function signWith(alg: string, input: string, stranger = false): string {
  const data = Buffer.from(input, 'latin1');
  if (alg === 'EdDSA') return sign(null, data, ed[stranger ? 1 : 0].privateKey).toString('base64url');
  if (alg === 'ES256')
    return sign('sha256', data, { key: ec[stranger ? 1 : 0].privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return createHmac('sha256', stranger ? Buffer.alloc(32, 7) : hmac)
    .update(data)
    .digest('base64url');
}

const encode = (text: string | Buffer) => (typeof text === 'string' ? Buffer.from(text, 'utf8') : text).toString('base64url');
const NOW = Date.UTC(2026, 0, 1);
const NOW_S = NOW / 1000;

/** What a verifier says about a token: its result as JSON, or its error's code (or class). */
type Verify = (settings: TokenSettings, token: string, nowMs: number, maxAge: number | undefined) => ReturnType<typeof verifyToken>;
async function verdict(verify: Verify, settings: TokenSettings, token: string, nowMs: number, maxAge: number | undefined) {
  try {
    const { result } = await verify(settings, token, nowMs, maxAge);
    return JSON.stringify(result);
  } catch (err) {
    return err instanceof NpUserError ? err.code : (err as Error).name;
  }
}

const canonical = (segment: string) => {
  if (segment.length % 4 === 1) return false;
  return Buffer.from(segment, 'base64url').toString('base64url') === segment;
};
/** npuser refuses it, and jose may not: a well-formed token with a non-canonical segment or a `crit` header. */
function nativeIsStricter(token: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => /^[A-Za-z0-9_-]+$/.test(p))) return false;
  if (!parts.every(canonical)) return true;
  try {
    const header: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(parts[0] ?? '', 'base64url')));
    return typeof header === 'object' && header !== null && (header as { crit?: unknown }).crit !== undefined;
  } catch {
    return false;
  }
}

// --- arbitraries --------------------------------------------------------------

const jsonish = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, '', 'npuser', 'other', [], {}, ['npuser'], ['other', 'npuser'], 2 ** 60),
  fc.integer({ min: NOW_S - 100_000, max: NOW_S + 100_000 }),
  fc.string(),
  fc.jsonValue({ maxDepth: 2 }),
);
/** One claim or header member: kept, left out, or something else. */
const variant = (keep: unknown, near: readonly unknown[]) =>
  fc.oneof(
    { weight: 16, arbitrary: fc.constant({ keep: true as const, value: keep }) },
    { weight: 4, arbitrary: fc.constantFrom(...near).map((value) => ({ keep: true as const, value })) },
    { weight: 1, arbitrary: fc.constant({ keep: false as const }) },
    { weight: 1, arbitrary: jsonish.map((value) => ({ keep: true as const, value })) },
  );
/** Mostly small numbers, sometimes large ones: most tokens live, some have expired or are not yet valid. */
const seconds = (small: number, large: number) =>
  fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: small }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: large }) });

const DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** `segment` spelled otherwise: with a digit more (a length of 4n+1 or an extra byte), or its last digit's spare bits set. */
function respell(segment: string, how: 'canonical' | 'appended' | 'spare bits'): string {
  if (how === 'appended') return `${segment}Q`;
  if (how === 'spare bits' && segment.length % 4 !== 0)
    return segment.slice(0, -1) + DIGITS.charAt(DIGITS.indexOf(segment.at(-1) ?? 'A') | 1);
  return segment;
}

function crafted(alg: Alg) {
  return fc
    .record({
      headerAlg: fc.oneof(
        { weight: 20, arbitrary: fc.constant(alg) },
        { weight: 1, arbitrary: fc.constantFrom('HS256', 'HS384', 'EdDSA', 'ES256', 'none', '', 7) },
      ),
      typ: fc.oneof(
        { weight: 15, arbitrary: fc.constant<unknown>('npuser+jwt') },
        {
          weight: 3,
          arbitrary: fc.constantFrom<unknown>(
            'NPUSER+JWT',
            'application/npuser+jwt',
            'Application/NPuser+JWT',
            'JWT',
            'npuser',
            undefined,
            1,
          ),
        },
      ),
      kid: fc.oneof(
        { weight: 15, arbitrary: fc.constant<unknown>(KID[alg]) },
        { weight: 2, arbitrary: fc.constantFrom<unknown>('ed-1', 'ed-2', 'ec-1', 'ec-2', 'nope', undefined, 5) },
      ),
      crit: fc.oneof(
        { weight: 20, arbitrary: fc.constant<unknown>(undefined) },
        { weight: 1, arbitrary: fc.constantFrom<unknown>(['b64'], ['x-npuser'], [], 'b64', null) },
      ),
      b64: fc.constantFrom<unknown>(undefined, undefined, true, false),
      iss: variant('npuser', ['other', 'NPUSER', ['npuser'], '', null, 'npuser ']),
      aud: variant('npuser', ['other', ['npuser'], ['other', 'npuser'], ['other'], [], 'NPUSER', [1, 'npuser'], { npuser: 1 }]),
      sub: variant('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq', ['', 7, null, ['s'], 'x']),
      iat: variant(NOW_S, [NOW_S + 30, NOW_S + 31, NOW_S - 3600, NOW_S - 3630, NOW_S - 3631, NOW_S + 0.5, '1', null]),
      exp: variant(NOW_S + 3600, [NOW_S, NOW_S - 30, NOW_S - 31, NOW_S + 1, NOW_S + 0.5, '9999999999', null]),
      nbf: fc.oneof(
        { weight: 6, arbitrary: fc.constant({ keep: false as const }) },
        {
          weight: 2,
          arbitrary: fc.constantFrom(NOW_S, NOW_S + 30, NOW_S + 31, NOW_S - 1, null, 'x').map((value) => ({ keep: true as const, value })),
        },
        { weight: 1, arbitrary: jsonish.map((value) => ({ keep: true as const, value })) },
      ),
      jti: variant('abcdefghijklmnopqrstuv', [7, null, '', ['j']]),
      authTime: variant(NOW_S - 60, [NOW_S, NOW_S + 1, '1', 1.5, NOW_S - 1e6, null, 2 ** 53, -1]),
      extra: fc.dictionary(fc.constantFrom('role', 'org', 'email', '__proto__', 'constructor'), fc.jsonValue({ maxDepth: 1 }), {
        maxKeys: 2,
      }),
      bom: fc.boolean(),
      // Spelled non-canonically before it is signed: a digit appended, or the last digit's spare bits set.
      spelling: fc.oneof(
        { weight: 12, arbitrary: fc.constant('canonical' as const) },
        { weight: 1, arbitrary: fc.constantFrom('appended' as const, 'spare bits' as const) },
      ),
      spelled: fc.constantFrom(0, 1),
      stranger: fc.oneof({ weight: 20, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    })
    .map((c) => {
      const header: Record<string, unknown> = { alg: c.headerAlg, typ: c.typ };
      if (c.kid !== undefined) header.kid = c.kid;
      if (c.crit !== undefined) header.crit = c.crit;
      if (c.b64 !== undefined) header.b64 = c.b64;
      const payload: Record<string, unknown> = { ...c.extra };
      const claims = { iss: c.iss, aud: c.aud, sub: c.sub, iat: c.iat, exp: c.exp, nbf: c.nbf, jti: c.jti, auth_time: c.authTime };
      for (const [name, v] of Object.entries(claims)) if (v.keep) payload[name] = v.value;
      const json = JSON.stringify(payload);
      const body = c.bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]) : json;
      const segments = [encode(JSON.stringify(header)), encode(body)];
      segments[c.spelled] = respell(segments[c.spelled] ?? '', c.spelling);
      const input = segments.join('.');
      return `${input}.${signWith(typeof c.headerAlg === 'string' ? c.headerAlg : alg, input, c.stranger)}`;
    });
}

function genuine(alg: Alg) {
  return fc
    .record({
      sub: fc.string({ minLength: 1, maxLength: 50 }),
      age: seconds(600, 7200),
      session: seconds(86_400, 40 * 86_400),
      extra: fc.dictionary(fc.constantFrom('role', 'org', 'email', 'email_verified', 'n'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    })
    .map(
      ({ sub, age, session, extra }) =>
        signToken(SETTINGS[alg], sub, NOW - age * 1000, Math.floor(NOW / 1000) - age - session, extra).token,
    );
}

const ALPHABET = ['A', 'Q', 'g', 'w', '_', '-', '0', '9', 'Z', 'a', 'z', '.', '=', '+', '/', ' ', 'é', '\u0000'];
type Mutation =
  | { kind: 'none' }
  | { kind: 'replace' | 'insert'; at: number; char: string }
  | { kind: 'delete'; at: number }
  | { kind: 'segments'; order: number[] }
  | { kind: 'splice'; segment: number };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constantFrom('replace' as const, 'insert' as const),
      at: fc.nat(),
      char: fc.constantFrom(...ALPHABET),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('segments' as const),
      order: fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 4 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('splice' as const), segment: fc.integer({ min: 0, max: 2 }) }) },
);

/**
 * Instants (ms) where a verdict about `token` changes: each of its numeric
 * `iat`, `nbf` and `exp`, moved by the tolerance and a maximum age, give or
 * take a millisecond and a second.
 */
function instants(token: string, maxAge: number | undefined): number[] {
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const name of ['iat', 'nbf', 'exp']) {
    const value = claims[name];
    if (typeof value !== 'number' || !Number.isFinite(value)) continue;
    for (const shift of [-30, 30, ...(name === 'iat' ? [3600 + 30, (maxAge ?? 3600) + 30] : [])]) {
      for (const delta of [-1000, -1, 0, 1, 999, 1000]) out.push((value + shift) * 1000 + delta);
    }
  }
  return out;
}

/** `token` changed by `m`, byte by byte or segment by segment; `other` lends a segment for a splice. */
function mutate(token: string, other: string, m: Mutation): string {
  const at = 'at' in m ? m.at % (token.length + 1) : 0;
  switch (m.kind) {
    case 'none':
      return token;
    case 'replace':
      return token.slice(0, at) + m.char + token.slice(at + 1);
    case 'insert':
      return token.slice(0, at) + m.char + token.slice(at);
    case 'delete':
      return token.slice(0, at) + token.slice(at + 1);
    case 'segments': {
      const parts = token.split('.');
      return m.order.map((i) => parts[i] ?? '').join('.');
    }
    case 'splice': {
      const parts = token.split('.');
      parts[m.segment] = other.split('.')[m.segment] ?? '';
      return parts.join('.');
    }
  }
}

// --- the properties -----------------------------------------------------------

describe.each(['HS256', 'EdDSA', 'ES256'] as const)('%s: npuser and jose give the same verdicts', (alg) => {
  const settings = SETTINGS[alg];
  const token = fc.oneof(genuine(alg), crafted(alg), genuine(alg === 'HS256' ? 'EdDSA' : 'HS256'));
  const clock = fc.record({
    offset: fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: -40, max: 600 }) },
      { weight: 1, arbitrary: fc.integer({ min: -300, max: 2 * 86_400 }) },
    ),
    maxAge: fc.option(seconds(7200, 7200), { nil: undefined, freq: 3 }),
  });
  // Asymmetric verification through jose is slow; the time checks are the same code for every algorithm.
  const runs = alg === 'HS256' ? 1000 : 250;
  /** A random instant, and every instant where the token's own times make a verdict turn. */
  const when = (t: string, offset: number, maxAge: number | undefined) => [NOW + offset * 1000, ...new Set(instants(t, maxAge))];

  it('on random mutations of valid and crafted tokens, byte by byte and segment by segment, on a random clock', async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(token, token, mutation, clock, async (original, other, m, { offset, maxAge }) => {
        const mutated = mutate(original, other, m);
        for (const nowMs of when(mutated, offset, maxAge)) {
          const native = await verdict(verifyToken, settings, mutated, nowMs, maxAge);
          const reference = await verdict(joseVerifyToken, settings, mutated, nowMs, maxAge);
          if (native.startsWith('{')) accepted += 1;
          if (nativeIsStricter(mutated)) expect(native).toBe('ERR_NPUSER_INVALID_TOKEN');
          else expect(native).toBe(reference);
        }
      }),
      { numRuns: runs },
    );
    // The runs must include many tokens that are accepted, or the comparison proves little.
    expect(accepted).toBeGreaterThan(60);
  });

  it('a token found in the cache gets the verdict it would get verified afresh, at any instant and maximum age', async () => {
    const cached = tokenSettings({ ...base, cacheSize: 64, hmacKey: hmac, signingKeys: settings.signingKeys });
    let hits = 0;
    await fc.assert(
      fc.asyncProperty(token, clock, async (original, { offset, maxAge }) => {
        // Verified twice when it is fresh: the second time it enters the cache.
        await verdict(verifyToken, cached, original, NOW, undefined);
        await verdict(verifyToken, cached, original, NOW, undefined);
        if (cached.verified?.has(original) === true) hits += 1;
        for (const nowMs of when(original, offset, maxAge)) {
          const native = await verdict(verifyToken, cached, original, nowMs, maxAge);
          if (nativeIsStricter(original)) expect(native).toBe('ERR_NPUSER_INVALID_TOKEN');
          else expect(native).toBe(await verdict(joseVerifyToken, settings, original, nowMs, maxAge));
        }
      }),
      { numRuns: runs },
    );
    expect(hits).toBeGreaterThan(runs / 5);
  });

  it('npuser is stricter only where it says: a crit header or a non-canonical segment that jose accepts', async () => {
    const iat = Math.floor(NOW / 1000);
    const header = { alg, typ: 'npuser+jwt', ...(KID[alg] === undefined ? {} : { kid: KID[alg] }) };
    const payload = encode(JSON.stringify({ iss: 'npuser', aud: 'npuser', sub: 's', iat, exp: iat + 60, jti: 'j', auth_time: iat }));
    const withCrit = `${encode(JSON.stringify({ ...header, crit: ['b64'], b64: true }))}.${payload}`;
    const crit = `${withCrit}.${signWith(alg, withCrit)}`;
    const plain = `${encode(JSON.stringify(header))}.${payload}`;
    const signature = signWith(alg, plain);
    // The last digit of a 43- or 86-digit signature has spare low bits: set one, the bytes stay the same.
    const last = signature.at(-1) ?? 'A';
    const spelled = `${plain}.${signature.slice(0, -1)}${'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.charAt('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(last) + 1)}`;
    for (const stricter of [crit, spelled]) {
      expect(nativeIsStricter(stricter)).toBe(true);
      expect(await verdict(joseVerifyToken, settings, stricter, NOW, undefined)).toMatch(/^\{/);
      expect(await verdict(verifyToken, settings, stricter, NOW, undefined)).toBe('ERR_NPUSER_INVALID_TOKEN');
    }
    expect(await verdict(verifyToken, settings, `${plain}.${signature}`, NOW, undefined)).toMatch(/^\{/);
  });
});

describe('signing: the tokens jose would write', () => {
  const extra = fc.dictionary(fc.constantFrom('role', 'org', 'email', 'email_verified', 'n', 'unicode'), fc.jsonValue({ maxDepth: 2 }), {
    maxKeys: 3,
  });
  it.each(['HS256', 'EdDSA', 'ES256'] as const)(
    '%s: the same header and payload as SignJWT, signed alike, verified by jose',
    async (alg) => {
      await fc.assert(
        fc.asyncProperty(fc.string({ minLength: 1 }), fc.integer({ min: 0, max: 86_400 }), extra, async (sub, session, claims) => {
          const authTime = Math.floor(NOW / 1000) - session;
          const { token } = signToken(SETTINGS[alg], sub, NOW, authTime, claims);
          const [header = '', payload = ''] = token.split('.');
          const { jti, exp } = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { jti: string; exp: number };
          const key = alg === 'HS256' ? hmac : alg === 'EdDSA' ? ed[0].privateKey : ec[0].privateKey;
          const jose = await new SignJWT({ ...claims, auth_time: authTime })
            .setProtectedHeader(alg === 'HS256' ? { alg, typ: 'npuser+jwt' } : { alg, typ: 'npuser+jwt', kid: KID[alg] as string })
            .setIssuer('npuser')
            .setAudience('npuser')
            .setSubject(sub)
            .setIssuedAt(Math.floor(NOW / 1000))
            .setExpirationTime(exp)
            .setJti(jti)
            .sign(key);
          // HS256 and Ed25519 signatures are deterministic; ES256's are not, so only its signed part is compared.
          if (alg === 'ES256') expect(token.split('.').slice(0, 2).join('.')).toBe(jose.split('.').slice(0, 2).join('.'));
          else expect(token).toBe(jose);
          expect(header).toBe(jose.split('.')[0]);
          expect(await verdict(joseVerifyToken, SETTINGS[alg], token, NOW, undefined)).toMatch(/^\{/);
        }),
        { numRuns: 150 },
      );
    },
  );
});
