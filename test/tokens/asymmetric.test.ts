import { createPublicKey, generateKeyPairSync, verify as cryptoVerify } from 'node:crypto';
import { SignJWT, base64url, createLocalJWKSet, decodeProtectedHeader, exportJWK, jwtVerify } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NpUser, type SigningKeyInput } from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { SECRET, expectRefused, setup, signIn } from '../support/helpers.js';

const ed = generateKeyPairSync('ed25519');
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** Claims a genuine token would carry, for tokens made with plain jose. */
function claims(nowMs: number, extra: Record<string, unknown> = {}) {
  const iat = Math.floor(nowMs / 1000);
  return { iss: 'npuser', aud: 'npuser', sub: 'someone', iat, exp: iat + 600, jti: 'abcdefghijklmnopqrstuv', auth_time: iat, ...extra };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe.each([
  ['EdDSA', ed.privateKey, ed.publicKey],
  ['ES256', ec.privateKey, ec.publicKey],
] as const)('%s signing keys', (alg, privateKey, publicKey) => {
  const options = { signingKeys: [{ kid: `${alg}-1`, key: privateKey }] };

  it('signs with the configured key, kid and typ, and validates', async () => {
    const s = setup(options);
    const token = await signIn(s);
    expect(decodeProtectedHeader(token)).toEqual({ alg, typ: 'npuser+jwt', kid: `${alg}-1` });
    await expect(s.np.validateToken(token)).resolves.toMatchObject({ claims: { iss: 'npuser', aud: 'npuser' } });
  });

  it('publishes only the public key in jwks()', () => {
    const s = setup(options);
    const jwks = s.np.jwks();
    expect(jwks.keys).toHaveLength(1);
    const [jwk] = jwks.keys;
    expect(jwk).toMatchObject({ kid: `${alg}-1`, alg, use: 'sig' });
    expect(jwk).not.toHaveProperty('d');
    expect(Object.keys(jwk!).sort()).toEqual(
      alg === 'EdDSA' ? ['alg', 'crv', 'kid', 'kty', 'use', 'x'] : ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y'],
    );
  });

  it('interop: plain jose verifies a token against np.jwks() alone', async () => {
    const s = setup(options);
    const token = await signIn(s);
    const jwks = JSON.parse(JSON.stringify(s.np.jwks())) as Parameters<typeof createLocalJWKSet>[0];
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: 'npuser',
      audience: 'npuser',
      typ: 'npuser+jwt',
      algorithms: [alg],
      currentDate: new Date(s.clock.now()),
    });
    expect(protectedHeader.kid).toBe(`${alg}-1`);
    expect(payload.sub).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('refuses tokens plain jose signs with the right key but the wrong typ, aud, iss or algorithm', async () => {
    const s = setup(options);
    const now = s.clock.now();
    const sign = (header: Record<string, unknown>, payload = claims(now)) =>
      new SignJWT(payload).setProtectedHeader({ alg, typ: 'npuser+jwt', kid: `${alg}-1`, ...header }).sign(privateKey);
    await expect(s.np.validateToken(await sign({}))).resolves.toBeDefined();
    await expectRefused(s.np, await sign({ typ: 'JWT' }));
    await expectRefused(s.np, await sign({}, claims(now, { aud: 'other' })));
    await expectRefused(s.np, await sign({}, claims(now, { iss: 'other' })));
    // The classic swap: HS256 with the public key's bytes as the HMAC secret.
    const publicPem = new TextEncoder().encode(publicKey.export({ type: 'spki', format: 'pem' }).toString());
    const swapped = await new SignJWT(claims(now)).setProtectedHeader({ alg: 'HS256', typ: 'npuser+jwt', kid: `${alg}-1` }).sign(publicPem);
    await expectRefused(s.np, swapped);
    // HS256 with the app's secret-derived key is no longer accepted once signingKeys are set.
    const hmacApp = setup();
    await expectRefused(s.np, await signIn(hmacApp));
  });

  it('kid selects only among configured keys; header keys are never used; no network', async () => {
    const s = setup(options);
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    const now = s.clock.now();
    const attacker = alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const attackerJwk = await exportJWK(attacker.publicKey);
    const forge = (header: Record<string, unknown>) =>
      new SignJWT(claims(now)).setProtectedHeader({ alg, typ: 'npuser+jwt', ...header }).sign(attacker.privateKey);
    await expectRefused(s.np, await forge({ kid: `${alg}-1` }));
    await expectRefused(s.np, await forge({ kid: `${alg}-1`, jwk: attackerJwk }));
    await expectRefused(s.np, await forge({ kid: 'attacker', jwk: { ...attackerJwk, kid: 'attacker' } }));
    await expectRefused(s.np, await forge({ kid: `${alg}-1`, jku: 'http://127.0.0.1:9/jwks.json' }));
    await expectRefused(s.np, await forge({ kid: `${alg}-1`, x5u: 'http://127.0.0.1:9/c.pem', x5c: ['MIIB'] }));
    await expectRefused(s.np, await forge({ kid: '../../etc/passwd' }));
    await expectRefused(s.np, await forge({ kid: 42 }));
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it('refuses alg none and the other asymmetric algorithm under the same kid', async () => {
    const s = setup(options);
    const now = s.clock.now();
    const [h, p] = (await new SignJWT(claims(now)).setProtectedHeader({ alg, typ: 'npuser+jwt', kid: `${alg}-1` }).sign(privateKey)).split(
      '.',
    );
    const none = base64url.encode(JSON.stringify({ alg: 'none', typ: 'npuser+jwt', kid: `${alg}-1` }));
    await expectRefused(s.np, `${none}.${p!}.AAAA`);
    expect(h).toBeDefined();
    const other = alg === 'EdDSA' ? { alg: 'ES256', key: ec.privateKey } : { alg: 'EdDSA', key: ed.privateKey };
    const swapped = await new SignJWT(claims(now))
      .setProtectedHeader({ alg: other.alg, typ: 'npuser+jwt', kid: `${alg}-1` })
      .sign(other.key);
    await expectRefused(s.np, swapped);
  });

  it('issues exactly the registered claims and applies the same time rules as HS256', async () => {
    const s = setup(options);
    const token = await signIn(s);
    const { claims: issued } = await s.np.validateToken(token);
    expect(Object.keys(issued).sort()).toEqual(['aud', 'auth_time', 'exp', 'iat', 'iss', 'jti', 'sub']);
    s.clock.advance(3600_000 + 29_000);
    await expect(s.np.validateToken(token)).resolves.toBeDefined();
    s.clock.advance(1000);
    await expectRefused(s.np, token, 'ERR_NPUSER_TOKEN_EXPIRED');

    const now = s.clock.now();
    const nowSeconds = Math.floor(now / 1000);
    const sign = (payload: Record<string, unknown>) =>
      new SignJWT(payload).setProtectedHeader({ alg, typ: 'npuser+jwt', kid: `${alg}-1` }).sign(privateKey);
    await expectRefused(s.np, await sign(claims(now, { iat: nowSeconds + 31 })));
    await expectRefused(s.np, await sign(claims(now, { nbf: nowSeconds + 31 })));
    await expectRefused(s.np, await sign(Object.fromEntries(Object.entries(claims(now)).filter(([name]) => name !== 'jti'))));
    // A bad signature on an expired token is reported as invalid, not expired.
    const expired = await sign(claims(now - 7200_000));
    const [h, p] = expired.split('.') as [string, string];
    const other = await sign(claims(now));
    await expectRefused(s.np, `${h}.${p}.${other.split('.')[2]!}`, 'ERR_NPUSER_INVALID_TOKEN');
  });

  it('accepts a token without kid only when a single key is configured', async () => {
    const now = setup().clock.now();
    const noKid = await new SignJWT(claims(now)).setProtectedHeader({ alg, typ: 'npuser+jwt' }).sign(privateKey);
    await expect(setup(options).np.validateToken(noKid)).resolves.toBeDefined();
    const two = setup({
      signingKeys: [
        { kid: 'new', key: alg === 'EdDSA' ? ec.privateKey : ed.privateKey },
        { kid: 'old', key: publicKey },
      ],
    });
    await expectRefused(two.np, noKid);
  });
});

describe('interop with node:crypto', () => {
  it('an EdDSA token verifies with crypto.verify and the public JWK from jwks()', async () => {
    const s = setup({ signingKeys: [{ kid: 'k', key: ed.privateKey }] });
    const token = await signIn(s);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const publicKey = createPublicKey({ key: s.np.jwks().keys[0] as unknown as import('node:crypto').JsonWebKey, format: 'jwk' });
    const ok = cryptoVerify(null, Buffer.from(`${header}.${payload}`), publicKey, Buffer.from(signature, 'base64url'));
    expect(ok).toBe(true);
    expect(cryptoVerify(null, Buffer.from(`${header}.${payload}x`), publicKey, Buffer.from(signature, 'base64url'))).toBe(false);
  });
});

describe('signingKeys option', () => {
  it('accepts JWKs (private signs, public verifies) and uses the RFC 7638 thumbprint as the default kid', async () => {
    const privateJwk = ed.privateKey.export({ format: 'jwk' });
    const s = setup({ signingKeys: [privateJwk as SigningKeyInput] });
    const [published] = s.np.jwks().keys;
    // The thumbprint jose computes for the same key.
    const { calculateJwkThumbprint } = await import('jose');
    expect(published!.kid).toBe(await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: privateJwk.x! }));
    await expect(s.np.validateToken(await signIn(s))).resolves.toBeDefined();
  });

  it.each<[string, unknown]>([
    ['an empty list', []],
    ['not a list', { kid: 'k', key: ed.privateKey }],
    ['a public key first (it cannot sign)', [ed.publicKey]],
    ['an RSA key', [generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey]],
    ['a P-384 key', [generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey]],
    ['an oct JWK', [{ kty: 'oct', k: 'c2VjcmV0' }]],
    ['a JWK whose alg does not match', [{ ...ed.privateKey.export({ format: 'jwk' }), alg: 'ES256' }]],
    ['a JWK with use enc', [{ ...ed.privateKey.export({ format: 'jwk' }), use: 'enc' }]],
    ['garbage', ['not a key']],
    ['a broken JWK', [{ kty: 'OKP', crv: 'Ed25519', x: 'AAAA', d: 'AAAA' }]],
    [
      'duplicate kids',
      [
        { kid: 'a', key: ed.privateKey },
        { kid: 'a', key: ec.publicKey },
      ],
    ],
    ['a non-string kid', [{ kid: 7, key: ed.privateKey }]],
  ])('refuses %s with a TypeError naming the option', (_name, signingKeys) => {
    expect(() => new NpUser({ secret: SECRET, mailer: memoryMailer(), signingKeys: signingKeys as SigningKeyInput[] })).toThrow(
      /options\.signingKeys/,
    );
  });

  it('jwks() without signingKeys is a TypeError: HS256 has no public key', () => {
    expect(() => setup().np.jwks()).toThrow(TypeError);
  });
});

describe('rotation', () => {
  it('a new key first and the old one kept (public half) keeps old tokens valid; removing it invalidates them; sub never changes', async () => {
    const first = setup({ signingKeys: [{ kid: '2026-01', key: ed.privateKey }] });
    const oldToken = await signIn(first);
    const { subject } = await first.np.validateToken(oldToken);

    const rotated = setup(
      {
        signingKeys: [
          { kid: '2026-02', key: ec.privateKey },
          { kid: '2026-01', key: ed.publicKey },
        ],
      },
      first.clock,
    );
    await expect(rotated.np.validateToken(oldToken)).resolves.toMatchObject({ subject });
    const newToken = await signIn(rotated);
    expect(decodeProtectedHeader(newToken).kid).toBe('2026-02');
    expect((await rotated.np.validateToken(newToken)).subject).toBe(subject);
    expect(rotated.np.jwks().keys.map((k) => k.kid)).toEqual(['2026-02', '2026-01']);

    const retired = setup({ signingKeys: [{ kid: '2026-02', key: ec.privateKey }] }, first.clock);
    await expectRefused(retired.np, oldToken);
    await expect(retired.np.validateToken(newToken)).resolves.toMatchObject({ subject });
  });

  it('old tokens expire on schedule during rotation', async () => {
    const first = setup({ signingKeys: [{ kid: 'a', key: ed.privateKey }] });
    const oldToken = await signIn(first);
    const rotated = setup(
      {
        signingKeys: [
          { kid: 'b', key: ec.privateKey },
          { kid: 'a', key: ed.publicKey },
        ],
      },
      first.clock,
    );
    first.clock.advance(3600_000 + 30_000);
    await expectRefused(rotated.np, oldToken, 'ERR_NPUSER_TOKEN_EXPIRED');
  });
});
