/**
 * A copy of `err` safe to attach as a cause: every occurrence of the given
 * sensitive strings (an address, a code) in its message is replaced, its own
 * cause and stack are dropped (both may quote them), and its `name` and a
 * string `code` (such as `ECONNREFUSED` or `EENVELOPE`) are kept for diagnosis.
 * @internal
 */
export function redactError(err: unknown, sensitive: readonly string[]): Error {
  const source = err instanceof Error ? err : new Error(typeof err === 'string' ? err : 'non-error thrown');
  const redact = (text: string) =>
    sensitive.reduce(
      // Case-insensitive: servers echo addresses in whatever case they like.
      (result, value) => (value.length > 0 ? result.replace(new RegExp(escapeRegExp(value), 'gi'), '[redacted]') : result),
      text,
    );
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

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
