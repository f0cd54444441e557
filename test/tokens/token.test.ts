import { type KeyObject, generateKeyPairSync, createHmac } from 'node:crypto';
import { SignJWT, UnsecuredJWT, base64url, decodeJwt, decodeProtectedHeader, exportJWK } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NpUser } from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { deriveKeys } from '../../src/lib/keys.js';
import { EMAIL, SECRET, expectRefused, requestAndRead, setup, testClock } from '../support/helpers.js';

// The app's real signing key, derived as npuser derives it: forged tokens
// below are signed with the right key, so only the claim checks can stop them.
const signingKey = deriveKeys(new TextEncoder().encode(SECRET), undefined).signing;

async function validToken() {
  const s = setup();
  const code = await requestAndRead(s);
  const result = await s.np.verifyCode(EMAIL, code);
  return { ...s, ...result };
}

interface Forge {
  alg?: string;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  omit?: string[];
  key?: Uint8Array | CryptoKey | KeyObject;
}

/** A token signed with the app's own key (unless `key` says otherwise) and whatever we like. */
async function forge(nowMs: number, { alg = 'HS256', header = {}, claims = {}, omit = [], key = signingKey }: Forge = {}) {
  const iat = Math.floor(nowMs / 1000);
  const base = { iss: 'npuser', aud: 'npuser', sub: 'someone', iat, exp: iat + 3600, jti: 'abcdefghijklmnopqrstuv', auth_time: iat - 60 };
  const payload = Object.fromEntries(Object.entries({ ...base, ...claims }).filter(([claim]) => !omit.includes(claim)));
  const protectedHeader = { alg, typ: 'npuser+jwt', ...header } as { alg: string };
  return new SignJWT(payload).setProtectedHeader(protectedHeader).sign(key);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('issued tokens', () => {
  it('carry exactly iss, aud, sub, iat, exp, jti, auth_time, with header alg HS256 and typ npuser+jwt, and no email', async () => {
    const { token, clock } = await validToken();
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'npuser+jwt' });
    const payload = decodeJwt(token);
    expect(Object.keys(payload).sort()).toEqual(['aud', 'auth_time', 'exp', 'iat', 'iss', 'jti', 'sub']);
    expect(payload.iat).toBe(Math.floor(clock.now() / 1000));
    expect(payload.auth_time).toBe(payload.iat);
    expect(payload.exp).toBe(payload.iat! + 3600);
    expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{22}$/); // 128 bits
    expect(Buffer.from(token.split('.')[1]!, 'base64url').toString()).not.toContain('example');
  });

  it('use issuer, audience and tokenTtlSeconds', async () => {
    const s = setup({ issuer: 'https://auth.example.org', audience: 'blog', tokenTtlSeconds: 600 });
    const code = await requestAndRead(s);
    const { token } = await s.np.verifyCode(EMAIL, code);
    const payload = decodeJwt(token);
    expect(payload).toMatchObject({ iss: 'https://auth.example.org', aud: 'blog' });
    expect(payload.exp! - payload.iat!).toBe(600);
  });

  it('have a fresh jti each time', async () => {
    const s = setup({ resendCooldownSeconds: 0 });
    const first = await s.np.verifyCode(EMAIL, await requestAndRead(s));
    const second = await s.np.verifyCode(EMAIL, await requestAndRead(s));
    expect(decodeJwt(first.token).jti).not.toBe(decodeJwt(second.token).jti);
    expect(first.subject).toBe(second.subject);
  });

  it('validate into subject, dates, token id and claims', async () => {
    const { np, token, subject, expiresAt } = await validToken();
    const result = await np.validateToken(token);
    expect(result.subject).toBe(subject);
    expect(result.expiresAt).toEqual(expiresAt);
    expect(result.tokenId).toBe(decodeJwt(token).jti);
    expect(result.issuedAt.getTime()).toBe(expiresAt.getTime() - 3600_000);
    expect(result.claims.sub).toBe(subject);
  });
});

describe('subjects are pairwise pseudonyms', () => {
  it('is not a plain hash of the address', async () => {
    const { subject } = await validToken();
    const { createHash } = await import('node:crypto');
    for (const algorithm of ['sha256', 'sha1', 'md5', 'sha512']) {
      for (const encoding of ['base64url', 'hex', 'base64'] as const) {
        expect(subject).not.toBe(createHash(algorithm).update(EMAIL).digest(encoding));
      }
    }
    expect(subject).not.toBe(createHmac('sha256', SECRET).update(EMAIL).digest('base64url'));
  });
});

describe('token validation: time', () => {
  it('accepts until exp + tolerance, refuses from then on as expired', async () => {
    const { np, token, clock } = await validToken();
    clock.advance(3600_000 + 30_000 - 1000);
    await expect(np.validateToken(token)).resolves.toBeDefined();
    clock.advance(1000);
    await expectRefused(np, token, 'ERR_NPUSER_TOKEN_EXPIRED');
  });

  it('exp == now is expired when there is no tolerance', async () => {
    const s = setup({ clockToleranceSeconds: 0 });
    const { token } = await s.np.verifyCode(EMAIL, await requestAndRead(s));
    s.clock.advance(3600_000 - 1000);
    await expect(s.np.validateToken(token)).resolves.toBeDefined();
    s.clock.advance(1000);
    await expectRefused(s.np, token, 'ERR_NPUSER_TOKEN_EXPIRED');
  });

  it('refuses iat and nbf in the future beyond the tolerance, accepts within it', async () => {
    const { np, clock } = setup();
    const nowSeconds = Math.floor(clock.now() / 1000);
    await expect(np.validateToken(await forge(clock.now(), { claims: { iat: nowSeconds + 30 } }))).resolves.toBeDefined();
    await expectRefused(np, await forge(clock.now(), { claims: { iat: nowSeconds + 31 } }));
    await expect(np.validateToken(await forge(clock.now(), { claims: { nbf: nowSeconds + 30 } }))).resolves.toBeDefined();
    await expectRefused(np, await forge(clock.now(), { claims: { nbf: nowSeconds + 31 } }));
  });

  it('treats a token older than the token lifetime as expired, whatever its exp says', async () => {
    const { np, clock } = setup();
    const nowSeconds = Math.floor(clock.now() / 1000);
    const old = await forge(clock.now(), { claims: { iat: nowSeconds - 7200, exp: nowSeconds + 3600 } });
    await expectRefused(np, old, 'ERR_NPUSER_TOKEN_EXPIRED');
  });

  it('reports a bad signature as invalid even when the token is also expired', async () => {
    const { np, token, clock } = await validToken();
    clock.advance(10 * 3600_000);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    await expectRefused(np, `${header}.${payload}.${flipped}`, 'ERR_NPUSER_INVALID_TOKEN');
    await expectRefused(np, token, 'ERR_NPUSER_TOKEN_EXPIRED');
  });
});

describe('token validation: forged claims signed with the right key', () => {
  const cases: Array<[string, Forge]> = [
    ['no typ', { header: { typ: undefined } }],
    ['typ JWT', { header: { typ: 'JWT' } }],
    ['typ at+jwt', { header: { typ: 'at+jwt' } }],
    ['wrong iss', { claims: { iss: 'evil' } }],
    ['wrong aud', { claims: { aud: 'other-app' } }],
    ['no iss', { omit: ['iss'] }],
    ['no aud', { omit: ['aud'] }],
    ['no sub', { omit: ['sub'] }],
    ['no exp', { omit: ['exp'] }],
    ['no iat', { omit: ['iat'] }],
    ['no jti', { omit: ['jti'] }],
    ['exp as a string', { claims: { exp: '9999999999' } }],
    ['no auth_time', { omit: ['auth_time'] }],
    ['auth_time as a string', { claims: { auth_time: '1' } }],
    ['auth_time after iat', { claims: { auth_time: 4_102_444_800 } }],
  ];
  for (const [name, forgery] of cases) {
    it(`refuses ${name}`, async () => {
      const { np, clock } = setup();
      await expectRefused(np, await forge(clock.now(), forgery));
    });
  }

  it('refuses an unknown critical header', async () => {
    const { np, clock } = setup();
    // jose will not sign an unknown `crit`, so this one is assembled by hand.
    const iat = Math.floor(clock.now() / 1000);
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const header = encode({ alg: 'HS256', typ: 'npuser+jwt', crit: ['x-npuser'], 'x-npuser': 1 });
    const payload = encode({ iss: 'npuser', aud: 'npuser', sub: 's', iat, exp: iat + 60, jti: 'j', auth_time: iat });
    const signature = createHmac('sha256', signingKey).update(`${header}.${payload}`).digest('base64url');
    await expectRefused(np, `${header}.${payload}.${signature}`);
    // The same assembly without `crit` is accepted, so the refusal is about `crit`.
    const plain = encode({ alg: 'HS256', typ: 'npuser+jwt' });
    const plainSignature = createHmac('sha256', signingKey).update(`${plain}.${payload}`).digest('base64url');
    await expect(np.validateToken(`${plain}.${payload}.${plainSignature}`)).resolves.toBeDefined();
  });

  it('accepts the untampered forgery, so each refusal above is about its one change', async () => {
    const { np, clock } = setup();
    await expect(np.validateToken(await forge(clock.now()))).resolves.toMatchObject({ subject: 'someone' });
  });
});

describe('token validation: algorithms and keys', () => {
  it('refuses alg none', async () => {
    const { np, clock } = setup();
    const iat = Math.floor(clock.now() / 1000);
    const unsecured = new UnsecuredJWT({ iss: 'npuser', aud: 'npuser', sub: 's', iat, exp: iat + 60, jti: 'j' }).encode();
    await expectRefused(np, unsecured.endsWith('.') ? `${unsecured}AAAA` : unsecured);
    const [h, p] = unsecured.split('.') as [string, string];
    // The bare `none` form (empty signature) is refused by shape before jose sees it.
    await expectRefused(np, `${h}.${p}.`);
  });

  it('refuses other HMAC sizes made with the same key', async () => {
    const { np, clock } = setup();
    await expectRefused(np, await forge(clock.now(), { alg: 'HS384' }));
    await expectRefused(np, await forge(clock.now(), { alg: 'HS512' }));
  });

  it('refuses asymmetric algorithms, and HS256 signed with a public key (algorithm swap)', async () => {
    const { np, clock } = setup();
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await expectRefused(np, await forge(clock.now(), { alg: 'ES256', key: privateKey as unknown as CryptoKey }));
    const publicPem = new TextEncoder().encode(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    await expectRefused(np, await forge(clock.now(), { key: publicPem }));
  });

  it('never trusts keys named in the header, and never touches the network or the file system', async () => {
    const { np, clock } = setup();
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    const attackerKey = new Uint8Array(32).fill(7);
    const jwk = { kty: 'oct', k: base64url.encode(attackerKey) };
    const { publicKey } = generateKeyPairSync('ed25519');
    const cases: Forge[] = [
      { key: attackerKey, header: { jwk } },
      { key: attackerKey, header: { jku: 'http://127.0.0.1:9/jwks.json', kid: 'k1' } },
      { key: attackerKey, header: { x5u: 'http://127.0.0.1:9/cert.pem' } },
      { key: attackerKey, header: { x5c: ['MIIB'] } },
      { key: attackerKey, header: { kid: '../../../../etc/passwd' } },
      { key: attackerKey, header: { kid: "' OR 1=1 --" } },
      { key: attackerKey, header: { jwk: await exportJWK(publicKey) } },
    ];
    for (const forgery of cases) await expectRefused(np, await forge(clock.now(), forgery));
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it('refuses tokens of another app (other secret) and of the same secret under another audience', async () => {
    const { token, clock } = await validToken();
    const other = new NpUser({ secret: 'another app secret, also 32 bytes long', mailer: memoryMailer(), now: clock.now });
    await expectRefused(other, token);
    const otherAudience = new NpUser({ secret: SECRET, audience: 'shop', mailer: memoryMailer(), now: clock.now });
    await expectRefused(otherAudience, token);
  });

  it('rotating secret while keeping the old one as subjectSecret keeps every sub; old tokens stop validating', async () => {
    const clock = testClock();
    const mailer = memoryMailer();
    const before = new NpUser({ secret: SECRET, mailer, now: clock.now });
    await before.requestCode(EMAIL);
    const { token, subject } = await before.verifyCode(EMAIL, mailer.lastCodeFor(EMAIL)!);
    const rotated = new NpUser({ secret: 'a brand new signing secret, 32+ bytes', subjectSecret: SECRET, mailer, now: clock.now });
    await expectRefused(rotated, token);
    clock.advance(60_000);
    await rotated.requestCode(EMAIL);
    const after = await rotated.verifyCode(EMAIL, mailer.lastCodeFor(EMAIL)!);
    expect(after.subject).toBe(subject);
  });
});

describe('token validation: shape, before jose runs', () => {
  it.each([
    ['empty', ''],
    ['two segments', 'aaaa.bbbb'],
    ['four segments', 'aaaa.bbbb.cccc.dddd'],
    ['padding', 'aaaa.bbbb.cccc='],
    ['whitespace', 'aaaa.bbbb.cccc '],
    ['standard base64', 'aa+a.bb/b.cccc'],
    ['a newline', 'aaaa.bbbb.cccc\n'],
  ])('refuses %s', async (_name, token) => {
    const { np } = setup();
    await expectRefused(np, token);
  });

  it('refuses a token over 4 KB even when correctly signed', async () => {
    const { np, clock } = setup();
    const big = await forge(clock.now(), { claims: { pad: 'x'.repeat(4096) } });
    await expectRefused(np, big);
    const justUnder = await forge(clock.now(), { claims: { pad: 'x'.repeat(2500) } });
    expect(justUnder.length).toBeLessThan(4096);
    await expect(np.validateToken(justUnder)).resolves.toBeDefined();
  });

  it('refuses a megabyte token quickly and a non-string with TypeError', async () => {
    const { np } = setup();
    await expectRefused(np, `${'a'.repeat(1 << 20)}.b.c`);
    await expect(np.validateToken(42 as unknown as string)).rejects.toBeInstanceOf(TypeError);
    await expect(np.validateToken(null as unknown as string)).rejects.toBeInstanceOf(TypeError);
  });
});
