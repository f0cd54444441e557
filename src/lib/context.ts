import type { RequestContext } from '../types.js';

const MAX_CLIENT_KEY_LENGTH = 512;

/**
 * Validate the optional `context` argument.
 * @throws TypeError when it is not an object, `clientKey` is not a non-empty
 * string of at most 512 characters, or `locale` is not a well-formed BCP 47 tag.
 * @internal
 */
export function checkContext(context: unknown): RequestContext {
  if (context === undefined) return {};
  if (typeof context !== 'object' || context === null || Array.isArray(context)) {
    throw new TypeError('npuser: context must be an object');
  }
  const { clientKey, locale } = context as Record<string, unknown>;
  if (clientKey !== undefined && (typeof clientKey !== 'string' || clientKey.length === 0 || clientKey.length > MAX_CLIENT_KEY_LENGTH)) {
    throw new TypeError(`npuser: context.clientKey must be a non-empty string of at most ${MAX_CLIENT_KEY_LENGTH} characters`);
  }
  let canonicalLocale: string | undefined;
  if (locale !== undefined) {
    if (typeof locale !== 'string' || locale.length > 64) throw new TypeError('npuser: context.locale must be a BCP 47 language tag');
    try {
      canonicalLocale = Intl.getCanonicalLocales(locale)[0];
    } catch {
      throw new TypeError('npuser: context.locale must be a BCP 47 language tag');
    }
  }
  return {
    ...(clientKey === undefined ? {} : { clientKey }),
    ...(canonicalLocale === undefined ? {} : { locale: canonicalLocale }),
  };
}
