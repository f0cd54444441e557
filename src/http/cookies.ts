/**
 * The two cookies of the sign-in routes: reading them from a `Cookie`
 * header and writing their `Set-Cookie` lines (RFC 6265).
 * @internal
 */

/** A cookie name: an RFC 6265 token. @internal */
export const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The value of the first cookie called `name` in a `Cookie` header, or
 * `undefined`. Browsers send the cookie of the longest path first, so the
 * first is the one set for this path.
 * @internal
 */
export function readCookie(header: string | null, name: string): string | undefined {
  if (header === null) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue;
    const value = part.slice(eq + 1).trim();
    return value.startsWith('"') && value.endsWith('"') && value.length >= 2 ? value.slice(1, -1) : value;
  }
  return undefined;
}

/** How a cookie is written. @internal */
export interface CookieAttributes {
  readonly secure: boolean;
  /** Seconds until the browser drops it; 0 deletes it now. */
  readonly maxAgeSeconds: number;
}

/**
 * A `Set-Cookie` value: HttpOnly, `SameSite=Lax`, `Path=/`, `Secure` when
 * asked. `value` must already be cookie-safe (a JWT is; other values are
 * percent-encoded by the caller).
 * @internal
 */
export function setCookie(name: string, value: string, { secure, maxAgeSeconds }: CookieAttributes): string {
  return `${name}=${value}; Path=/; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/** A `Set-Cookie` value that deletes the cookie. @internal */
export function clearCookie(name: string, secure: boolean): string {
  return setCookie(name, '', { secure, maxAgeSeconds: 0 });
}
