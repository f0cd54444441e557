import dns from 'node:dns';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NpUser } from 'npuser';
import { EMAIL, requestAndRead, setup } from './support/helpers.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('no network', () => {
  it('a whole sign-in, validation and logout opens no socket, resolves no name and fetches nothing', async () => {
    const connect = vi.spyOn(net.Socket.prototype, 'connect');
    const lookup = vi.spyOn(dns, 'lookup');
    const lookupPromise = vi.spyOn(dns.promises, 'lookup');
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    for (const signingKeys of [undefined, [(await import('node:crypto')).generateKeyPairSync('ed25519').privateKey]]) {
      const s = setup(signingKeys ? { signingKeys } : {});
      const { token } = await s.np.verifyCode(EMAIL, await requestAndRead(s));
      await s.np.validateToken(token);
      await s.np.revokeToken(token);
      await s.np.validateToken(token).catch(() => undefined);
      await s.np.verifyCode(EMAIL, '000000').catch(() => undefined);
      expect(s.np).toBeInstanceOf(NpUser);
    }
    expect(connect).not.toHaveBeenCalled();
    expect(lookup).not.toHaveBeenCalled();
    expect(lookupPromise).not.toHaveBeenCalled();
    expect(fetchSpy).not.toHaveBeenCalled();
  });
});
