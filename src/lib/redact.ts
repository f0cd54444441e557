/**
 * A copy of `err` safe to attach as a cause: every occurrence of the given
 * sensitive strings or patterns (an address, a code) in its message is replaced, its own
 * cause and stack are dropped (both may quote them), and its `name` and a
 * string `code` (such as `ECONNREFUSED` or `EENVELOPE`) are kept for diagnosis.
 * @internal
 */
export function redactError(err: unknown, sensitive: readonly (string | RegExp)[]): Error {
  const source = err instanceof Error ? err : new Error(typeof err === 'string' ? err : 'non-error thrown');
  // Case-insensitive: servers echo addresses in whatever case they like.
  const patterns = sensitive
    .filter((value) => typeof value !== 'string' || value.length > 0)
    .map((value) => (typeof value === 'string' ? new RegExp(escapeRegExp(value), 'gi') : new RegExp(value.source, 'gi')));
  const redact = (text: string) => patterns.reduce((result, pattern) => result.replace(pattern, '[redacted]'), text);
  const message = redact(source.message);
  const copy = new Error(message);
  copy.name = redact(source.name);
  copy.stack = `${copy.name}: ${message}`;
  const code = (source as { code?: unknown }).code;
  // Only a code that looks like one (ECONNREFUSED, EENVELOPE): anything else may carry data.
  if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code)) {
    Object.defineProperty(copy, 'code', { value: code, enumerable: true });
  }
  return copy;
}

// Between two digits of a code: characters that are not digits, or whole tags
// (whose attributes may hold digits: `<span style="padding-left:0.45em;">`).
// The two alternatives cannot match the same text, so matching stays linear.
const BETWEEN_DIGITS = '(?:[^0-9<]|<[^>]{0,200}>){0,40}';

/**
 * The digits of `code` in order, whatever stands between them (spaces,
 * hyphens, the tags of the HTML part) up to a bound: how a code looks in
 * anything a mailer or a server may quote back.
 * @internal
 */
export function spreadDigitsPattern(code: string): RegExp {
  return new RegExp(Array.from(code, escapeRegExp).join(BETWEEN_DIGITS));
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
