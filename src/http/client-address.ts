/**
 * The client's address as a `clientKey`: canonical, so one client spelled
 * two ways (`2001:DB8::1`, `2001:db8:0:0::1`, `::ffff:203.0.113.5`) counts
 * against one budget, and an IPv6 client grouped by its /64, since one
 * subscriber usually holds a whole /64 and could otherwise take a fresh
 * address, and a fresh budget, for every request.
 *
 * Web-standard only: the platform's URL parser does the IPv6 canonicalising
 * (RFC 5952 lower-case, longest run of zeros compressed).
 * @internal
 */

const IPV4 = /^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$/;
const IPV6_CHARS = /^[0-9a-fA-F:.]+$/;
const PORT = /^[0-9]{1,5}$/;

/**
 * The `clientKey` for an address as a connection or a proxy reports it:
 * `203.0.113.5`, or `2001:db8:85a3:8d3::/64` for any address in that /64.
 * Accepts a port (`203.0.113.5:4711`, `[2001:db8::1]:4711`), a zone
 * (`fe80::1%eth0`) and IPv4-mapped IPv6 (`::ffff:203.0.113.5`, which is
 * IPv4). Anything else (`unknown`, a host name, garbage) is `undefined`.
 * @internal
 */
export function clientKeyOf(address: string): string | undefined {
  const text = address.trim();
  if (text.length === 0 || text.length > 100) return undefined;
  let host = text;
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end === -1) return undefined;
    const rest = host.slice(end + 1);
    if (rest !== '' && !(rest.startsWith(':') && PORT.test(rest.slice(1)))) return undefined;
    host = host.slice(1, end);
  } else if (/^[^:]+:[0-9]+$/.test(host)) {
    // One colon is an IPv4 address (or a name) with a port; IPv6 has at least two.
    host = host.slice(0, host.indexOf(':'));
  }
  if (IPV4.test(host)) return host;
  return ipv6Key(host);
}

function ipv6Key(text: string): string | undefined {
  const zone = text.indexOf('%');
  const bare = zone === -1 ? text : text.slice(0, zone);
  if (!bare.includes(':') || !IPV6_CHARS.test(bare)) return undefined;
  let groups: string[];
  try {
    groups = expand(new URL(`http://[${bare}]/`).hostname);
  } catch {
    return undefined;
  }
  // ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket.
  if (groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff') {
    const high = Number.parseInt(groups[6] ?? '0', 16);
    const low = Number.parseInt(groups[7] ?? '0', 16);
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  const prefix = new URL(`http://[${groups.slice(0, 4).join(':')}::]/`).hostname;
  return `${prefix.slice(1, -1)}/64`;
}

/** The eight groups of a WHATWG-serialised IPv6 host (`[…]`, lower-case hex, `::` at most once). */
function expand(hostname: string): string[] {
  const inner = hostname.slice(1, -1);
  const cut = inner.indexOf('::');
  if (cut === -1) return inner.split(':');
  const head = inner.slice(0, cut) === '' ? [] : inner.slice(0, cut).split(':');
  const tail = inner.slice(cut + 2) === '' ? [] : inner.slice(cut + 2).split(':');
  return [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
}

/**
 * What a platform hands a fetch handler besides the request, from which the
 * client's address can be read: the sign-in handler's `fetch` takes any of
 * these as its second argument, so each platform's own call passes it as it is.
 *
 * - `{ remoteAddress }`: what `toNodeHandler` and `fastifySignIn` pass, and
 *   what your own code passes from wherever it knows the address.
 * - `Deno.serve((request, info) => …)`: `info.remoteAddr.hostname`.
 * - `Bun.serve({ fetch(request, server) {…} })`: `server.requestIP(request)`.
 * - Hono on `@hono/node-server`: `c.env`, which holds the Node.js request.
 *
 * @example
 * ```ts
 * import type { SignInConnection } from 'npuser/http';
 * const connection: SignInConnection = { remoteAddress: '203.0.113.5' };
 * const response = await signIn.fetch(request, connection);
 * ```
 */
export type SignInConnection =
  | {
      /** The client's address, as the connection (or your platform) reports it. */
      readonly remoteAddress: string | undefined;
    }
  | {
      /** Deno's `info.remoteAddr`. */
      readonly remoteAddr: {
        /** The client's address. */
        readonly hostname: string;
      };
    }
  | {
      /** Bun's `server.requestIP(request)`. */
      requestIP(request: Request): {
        /** The client's address. */
        readonly address: string;
      } | null;
    }
  | {
      /** The Node.js request that `@hono/node-server` keeps in `c.env`. */
      readonly incoming: {
        /** Its socket. */
        readonly socket: {
          /** The client's address. */
          readonly remoteAddress?: string | undefined;
        };
      };
    };

/**
 * The connection's address from whichever {@link SignInConnection} shape
 * `connection` has, or `undefined` when it has none of them.
 * @internal
 */
export function connectionAddress(connection: unknown, request: Request): string | undefined {
  if (typeof connection !== 'object' || connection === null) return undefined;
  const c = connection as Record<string, unknown>;
  if (typeof c.remoteAddress === 'string') return c.remoteAddress;
  const remoteAddr = c.remoteAddr as { hostname?: unknown } | undefined;
  if (typeof remoteAddr === 'object' && typeof remoteAddr.hostname === 'string') return remoteAddr.hostname;
  if (typeof c.requestIP === 'function') {
    const ip = (c.requestIP as (r: Request) => unknown).call(connection, request) as { address?: unknown } | null | undefined;
    return typeof ip?.address === 'string' ? ip.address : undefined;
  }
  // @hono/node-server: `c.env` is `{ incoming, outgoing }`, or `{ server: { incoming } }` behind some adapters.
  const holder = (typeof c.server === 'object' && c.server !== null ? c.server : c) as {
    incoming?: { socket?: { remoteAddress?: unknown } };
  };
  const remote = holder.incoming?.socket?.remoteAddress;
  return typeof remote === 'string' ? remote : undefined;
}

/**
 * The client's address behind `hops` proxies that each append the address
 * they saw to `X-Forwarded-For`: counted from the right, the connection
 * itself being the nearest proxy, as Express's `trust proxy` counts hops.
 * Entries further left were written by the client and are never believed.
 * With fewer entries than hops, the leftmost one is taken.
 * @internal
 */
export function forwardedAddress(forwardedFor: string | null, connection: string | undefined, hops: number): string | undefined {
  const chain = [
    connection,
    ...(forwardedFor ?? '')
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part !== '')
      .reverse(),
  ];
  return chain[Math.min(hops, chain.length - 1)];
}
