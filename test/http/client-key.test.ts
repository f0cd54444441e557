// Where the per-client limits' key comes from: the connection, X-Forwarded-For only with
// trustProxy, or the app's own function; canonical, IPv6 by its /64.
import { describe, expect, it } from 'vitest';
import { EMAIL } from '../support/helpers.js';
import { clientKeyOf, connectionAddress, forwardedAddress } from '../../src/http/client-address.js';
import { CONNECTION, SITE, handlerSetup, post } from './support.js';

describe('clientKeyOf', () => {
  it.each([
    ['203.0.113.5', '203.0.113.5'],
    ['203.0.113.5:4711', '203.0.113.5'],
    [' 203.0.113.5 ', '203.0.113.5'],
    ['::ffff:203.0.113.5', '203.0.113.5'],
    ['::FFFF:CB00:7105', '203.0.113.5'],
    ['[::ffff:203.0.113.5]:443', '203.0.113.5'],
  ])('IPv4 %s is %s', (input, key) => {
    expect(clientKeyOf(input)).toBe(key);
  });

  it('every spelling of one IPv6 client, and every address of its /64, is one key', () => {
    const spellings = [
      '2001:db8:85a3:8d3:1319:8a2e:370:7348',
      '2001:DB8:85A3:8D3:1319:8A2E:370:7348',
      '2001:0db8:85a3:08d3:1319:8a2e:0370:7348',
      '[2001:db8:85a3:8d3:1319:8a2e:370:7348]:443',
      '2001:db8:85a3:8d3::1',
      '2001:db8:85a3:8d3:ffff:ffff:ffff:ffff',
      'fe80::1%eth0'.replace('fe80::1', '2001:db8:85a3:8d3::2'),
    ];
    expect(new Set(spellings.map(clientKeyOf))).toEqual(new Set(['2001:db8:85a3:8d3::/64']));
    expect(clientKeyOf('2001:db8:85a3:8d4::1')).toBe('2001:db8:85a3:8d4::/64');
    expect(clientKeyOf('2001:db8::1')).toBe('2001:db8::/64');
    expect(clientKeyOf('2001:db8:0:0:1::1')).toBe('2001:db8::/64');
  });

  it.each([
    'unknown',
    '',
    'example.com',
    '1.2.3',
    '01.2.3.4',
    '256.1.1.1',
    '1.2.3.4.5',
    '[2001:db8::1',
    '2001:db8::1]',
    '2001:db8:::1',
    'g::1',
    '[::1]x',
    'a'.repeat(200),
  ])('%j is no address', (input) => {
    expect(clientKeyOf(input)).toBeUndefined();
  });
});

describe('connectionAddress: each platform’s second argument', () => {
  const request = new Request(`${SITE}/`);
  it.each([
    ['toNodeHandler, fastifySignIn, your own', { remoteAddress: '203.0.113.5' }],
    ['Deno.serve’s info', { remoteAddr: { hostname: '203.0.113.5', port: 4711, transport: 'tcp' } }],
    ['Bun.serve’s server', { requestIP: (r: Request) => (r === request ? { address: '203.0.113.5', port: 4711 } : null) }],
    ['@hono/node-server’s c.env', { incoming: { socket: { remoteAddress: '203.0.113.5' } }, outgoing: {} }],
    ['@hono/node-server’s c.env with a server', { server: { incoming: { socket: { remoteAddress: '203.0.113.5' } } } }],
  ])('%s', (_name, connection) => {
    expect(connectionAddress(connection, request)).toBe('203.0.113.5');
  });

  it.each([undefined, null, 'x', {}, { remoteAddress: 42 }, { requestIP: () => null }])('%j has none', (connection) => {
    expect(connectionAddress(connection, request)).toBeUndefined();
  });
});

describe('forwardedAddress', () => {
  it('counts hops from the right: the connection is the nearest proxy', () => {
    expect(forwardedAddress('198.51.100.1, 203.0.113.5', '10.0.0.2', 1)).toBe('203.0.113.5');
    expect(forwardedAddress('198.51.100.1, 203.0.113.5, 10.0.0.3', '10.0.0.2', 2)).toBe('203.0.113.5');
    // Fewer entries than hops: the leftmost is what there is.
    expect(forwardedAddress('203.0.113.5', '10.0.0.2', 3)).toBe('203.0.113.5');
    expect(forwardedAddress(null, '10.0.0.2', 1)).toBe('10.0.0.2');
  });
});

describe('the handler’s clientKey', () => {
  const contextsOf = (h: ReturnType<typeof handlerSetup>) => h.contexts.map((c) => c.context?.clientKey);

  it('comes from the connection; X-Forwarded-For without trustProxy is ignored (any client can send one)', async () => {
    const h = handlerSetup({}, { maxCodesPerClientPerHour: 1 });
    const first = await h.signIn.fetch(
      post('/auth/code', { email: EMAIL }, { headers: { 'x-forwarded-for': '198.51.100.1' } }),
      CONNECTION,
    );
    expect(first.status).toBe(200);
    // A forged header does not buy a fresh budget.
    const second = await h.signIn.fetch(
      post('/auth/code', { email: 'bob@example.com' }, { headers: { 'x-forwarded-for': '198.51.100.2' } }),
      CONNECTION,
    );
    expect(second.status).toBe(429);
    expect(contextsOf(h)).toEqual(['203.0.113.5', '203.0.113.5']);
  });

  it('with trustProxy, is the address the nearest proxy saw, never what the client wrote further left', async () => {
    const one = handlerSetup({ trustProxy: true });
    await one.signIn.fetch(post('/auth/code', { email: EMAIL }, { headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.7' } }), {
      remoteAddress: '10.0.0.2',
    });
    const two = handlerSetup({ trustProxy: 2 });
    await two.signIn.fetch(post('/auth/code', { email: EMAIL }, { headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.0.0.9' } }), {
      remoteAddress: '10.0.0.2',
    });
    // Without the header (a health check straight to the app), the connection.
    await two.signIn.fetch(post('/auth/code', { email: 'bob@example.com' }), { remoteAddress: '10.0.0.2' });
    expect(contextsOf(one)).toEqual(['198.51.100.7']);
    expect(contextsOf(two)).toEqual(['198.51.100.7', '10.0.0.2']);
  });

  it('with trustProxy, a forwarded entry that is not an address is a bad request', async () => {
    const h = handlerSetup({ trustProxy: 1 });
    const response = await h.signIn.fetch(post('/auth/code', { email: EMAIL }, { headers: { 'x-forwarded-for': 'unknown' } }), CONNECTION);
    expect(response.status).toBe(400);
    expect(h.contexts).toEqual([]);
  });

  it('IPv6 spellings of one client, and its neighbours in the /64, share one budget', async () => {
    const h = handlerSetup({}, { maxCodesPerClientPerHour: 2 });
    const send = (remoteAddress: string, email: string) => h.signIn.fetch(post('/auth/code', { email }), { remoteAddress });
    expect((await send('2001:db8:85a3:8d3::1', 'a@example.com')).status).toBe(200);
    expect((await send('2001:DB8:85A3:08D3:0:0:0:1', 'b@example.com')).status).toBe(200);
    expect((await send('2001:db8:85a3:8d3:dead:beef:0:1', 'c@example.com')).status).toBe(429);
    expect((await send('2001:db8:85a3:8d4::1', 'd@example.com')).status).toBe(200);
    expect(contextsOf(h)).toEqual(['2001:db8:85a3:8d3::/64', '2001:db8:85a3:8d3::/64', '2001:db8:85a3:8d3::/64', '2001:db8:85a3:8d4::/64']);
  });

  it('a dual-stack socket’s ::ffff:a.b.c.d is the IPv4 client', async () => {
    const h = handlerSetup();
    await h.signIn.fetch(post('/auth/code', { email: EMAIL }), { remoteAddress: '::ffff:203.0.113.5' });
    expect(contextsOf(h)).toEqual(['203.0.113.5']);
  });

  it('the verification is counted against the same key', async () => {
    const h = handlerSetup();
    await h.signIn.fetch(post('/auth/code', { email: EMAIL }), CONNECTION);
    await h.signIn.fetch(post('/auth/verify', { email: EMAIL, code: '000000' }), { remoteAddress: '203.0.113.5:4711' });
    expect(h.contexts.map((c) => [c.call, c.context?.clientKey])).toEqual([
      ['requestCode', '203.0.113.5'],
      ['verifyCode', '203.0.113.5'],
    ]);
  });

  it('options.clientKey replaces both, canonicalising an address and taking any other key as it is', async () => {
    const h = handlerSetup({ clientKey: (request) => request.headers.get('cf-connecting-ip') ?? undefined });
    await h.signIn.fetch(post('/auth/code', { email: EMAIL }, { headers: { 'cf-connecting-ip': '2001:db8::7' } }));
    const devices = handlerSetup({ clientKey: () => 'device:42' });
    await devices.signIn.fetch(post('/auth/code', { email: EMAIL }));
    const off = handlerSetup({ clientKey: () => undefined });
    await off.signIn.fetch(post('/auth/code', { email: EMAIL }));
    expect([...contextsOf(h), ...contextsOf(devices), ...contextsOf(off)]).toEqual(['2001:db8::/64', 'device:42', undefined]);

    const bad = handlerSetup({ clientKey: () => 42 as unknown as string });
    await expect(bad.signIn.fetch(post('/auth/code', { email: EMAIL }))).rejects.toThrow(/options\.clientKey must return/);
  });

  it('without any address, code and verify reject with a TypeError saying how to pass one; nothing is mailed', async () => {
    const h = handlerSetup();
    await expect(h.signIn.fetch(post('/auth/code', { email: EMAIL }))).rejects.toThrow(
      expect.objectContaining({
        name: 'TypeError',
        message: expect.stringMatching(/cannot tell the client's address.*toNodeHandler/) as string,
      }),
    );
    await expect(h.signIn.fetch(post('/auth/verify', { email: EMAIL, code: '123456' }), { remoteAddress: undefined })).rejects.toThrow(
      TypeError,
    );
    expect(h.mailer.messages).toEqual([]);
    // The routes that need no client key do not ask for one.
    expect((await h.signIn.fetch(post('/auth/sign-out', undefined))).status).toBe(200);
  });
});
