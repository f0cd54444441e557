/**
 * A copy of `err` safe to attach as a cause: every occurrence of the given
 * sensitive strings (an address, a code) in its message is replaced, its own
 * cause and stack are dropped (both may quote them), and its `name` and a
 * string `code` (such as `ECONNREFUSED` or `EENVELOPE`) are kept for diagnosis.
 * @internal
 */
export function redactError(err: unknown, sensitive: readonly string[]): Error {
  const source = err instanceof Error ? err : new Error(typeof err === 'string' ? err : 'non-error thrown');
  let message = source.message;
  for (const value of sensitive) {
    // Case-insensitive: servers echo addresses in whatever case they like.
    if (value.length > 0) message = message.replace(new RegExp(escapeRegExp(value), 'gi'), '[redacted]');
  }
  const copy = new Error(message);
  copy.name = source.name;
  copy.stack = `${copy.name}: ${message}`;
  const code = (source as { code?: unknown }).code;
  if (typeof code === 'string') Object.defineProperty(copy, 'code', { value: code, enumerable: true });
  return copy;
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
