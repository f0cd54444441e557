import { NpUserError } from '../errors.js';

/** The largest body either HTTP surface reads, in bytes (8 KiB): far above any form npuser takes. @internal */
export const MAX_BODY_BYTES = 8192;

/** The body encodings a route accepts. @internal */
export type BodyKind = 'json' | 'form';

const MEDIA_TYPES: Readonly<Record<BodyKind, string>> = {
  json: 'application/json',
  form: 'application/x-www-form-urlencoded',
};

/**
 * The kind of a `Content-Type`, if it is one of `kinds`: the media type
 * compared case-insensitively, and a `charset` parameter, when present,
 * must be UTF-8 (the only one npuser decodes).
 */
function kindOf(contentType: string | null, kinds: readonly BodyKind[]): BodyKind | undefined {
  if (contentType === null) return undefined;
  const [type = '', ...params] = contentType.split(';').map((part) => part.trim().toLowerCase());
  const kind = kinds.find((k) => MEDIA_TYPES[k] === type);
  if (kind === undefined) return undefined;
  for (const param of params) {
    const [name, value = ''] = param.split('=').map((s) => s.trim());
    if (name === 'charset' && value.replace(/^"|"$/g, '') !== 'utf-8') return undefined;
  }
  return kind;
}

/**
 * The body of `request` as a plain object of fields, read at most
 * `maxBytes` far, or an `NpUserError`:
 * - `ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE` when its `Content-Type` is not one of `kinds`;
 * - `ERR_NPUSER_PAYLOAD_TOO_LARGE` when it is (or announces itself) longer than `maxBytes`;
 * - `ERR_NPUSER_BAD_REQUEST` when it is not UTF-8, not JSON, not a JSON
 *   object, or a form that repeats a field.
 * The stream is never read past `maxBytes`, so a megabyte body costs 8 KiB.
 * @internal
 */
export async function readBody(
  request: Request,
  kinds: readonly BodyKind[],
  maxBytes: number = MAX_BODY_BYTES,
): Promise<Record<string, unknown>> {
  const kind = kindOf(request.headers.get('content-type'), kinds);
  if (kind === undefined) throw new NpUserError('ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE');
  const length = request.headers.get('content-length');
  if (length !== null && (!/^[0-9]{1,15}$/.test(length) || Number(length) > maxBytes)) {
    throw new NpUserError(/^[0-9]+$/.test(length) ? 'ERR_NPUSER_PAYLOAD_TOO_LARGE' : 'ERR_NPUSER_BAD_REQUEST');
  }
  const text = await readText(request, maxBytes);
  if (kind === 'form') return parseForm(text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new NpUserError('ERR_NPUSER_BAD_REQUEST');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new NpUserError('ERR_NPUSER_BAD_REQUEST');
  return parsed as Record<string, unknown>;
}

/**
 * Where the Node.js adapter's requests hand over their body without a web
 * stream: `request[BODY_SOURCE]()` gives a {@link BodySource} once, or
 * `undefined` when the body is to be read from `request.body`.
 * @internal
 */
export const BODY_SOURCE: unique symbol = Symbol('npuser body source');

/**
 * Feeds `onChunk` the body's chunks in order until it returns `false` (the
 * reader has had enough; the rest is the source's to drop) or the body
 * ends; rejects when the body breaks off.
 * @internal
 */
export type BodySource = (onChunk: (chunk: Uint8Array) => boolean) => Promise<void>;

// Stateless between whole decodes: one for every request.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

async function readText(request: Request, maxBytes: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  // The one limit, whichever way the bytes come: nothing past maxBytes is kept.
  const onChunk = (chunk: Uint8Array): boolean => {
    size += chunk.byteLength;
    if (size > maxBytes) return false;
    chunks.push(chunk);
    return true;
  };
  const source = (request as { [BODY_SOURCE]?: () => BodySource | undefined })[BODY_SOURCE]?.();
  const reading = source === undefined ? readStream(request.body, onChunk) : source(onChunk);
  try {
    await reading;
  } catch {
    // A stream that broke off (the client went away) is a bad request, not a server error.
    throw new NpUserError('ERR_NPUSER_BAD_REQUEST');
  }
  if (size > maxBytes) throw new NpUserError('ERR_NPUSER_PAYLOAD_TOO_LARGE');
  let bytes = chunks[0] ?? new Uint8Array(0);
  if (chunks.length > 1) {
    bytes = new Uint8Array(size);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.byteLength;
    }
  }
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new NpUserError('ERR_NPUSER_BAD_REQUEST');
  }
}

/** A web stream as a {@link BodySource} would feed it; a locked stream throws here, before any reading. */
function readStream(body: ReadableStream<Uint8Array> | null, onChunk: (chunk: Uint8Array) => boolean): Promise<void> {
  if (body === null) return Promise.resolve();
  const reader = body.getReader();
  return (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done || !onChunk(value)) return;
      }
    } finally {
      // Whatever is left is never read: cancel, so the connection can be closed or reused.
      reader.cancel().catch(() => undefined);
    }
  })();
}

function parseForm(text: string): Record<string, unknown> {
  const fields: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [name, value] of new URLSearchParams(text)) {
    // A repeated field would be an array in some frameworks and the last value in others: refused.
    if (Object.hasOwn(fields, name)) throw new NpUserError('ERR_NPUSER_BAD_REQUEST');
    fields[name] = value;
  }
  return fields;
}

/** What a field must be: a string (with a length bound) or a non-negative integer. @internal */
export type FieldRule =
  | { readonly type: 'string'; readonly optional?: boolean; readonly maxLength: number }
  | { readonly type: 'integer'; readonly optional?: boolean; readonly max: number };

/** The fields of a route: each name and its rule. @internal */
export type FieldRules = Readonly<Record<string, FieldRule>>;

/** The values `fields()` returns for `rules`. @internal */
export type FieldValues<R extends FieldRules> = {
  readonly [K in keyof R]: R[K] extends { readonly type: 'integer' } ? number | undefined : string | undefined;
};

/**
 * The fields of `body` checked against `rules`: an unknown field, a missing
 * required one, a wrong type (a form sends only strings, so an integer may
 * come as its decimal digits there) or an over-long string is
 * `ERR_NPUSER_BAD_REQUEST`, before anything else runs.
 * @internal
 */
export function fields<R extends FieldRules>(body: Record<string, unknown>, rules: R): FieldValues<R> {
  const values: Record<string, string | number | undefined> = {};
  for (const name of Object.keys(body)) {
    if (!Object.hasOwn(rules, name)) throw new NpUserError('ERR_NPUSER_BAD_REQUEST');
  }
  for (const [name, rule] of Object.entries(rules)) {
    const value = Object.hasOwn(body, name) ? body[name] : undefined;
    if (value === undefined || value === '') {
      if (rule.optional !== true) throw new NpUserError('ERR_NPUSER_BAD_REQUEST');
      values[name] = undefined;
      continue;
    }
    if (rule.type === 'string') {
      if (typeof value !== 'string' || value.length > rule.maxLength) throw new NpUserError('ERR_NPUSER_BAD_REQUEST');
      values[name] = value;
    } else {
      const number = typeof value === 'string' && /^[0-9]{1,15}$/.test(value) ? Number(value) : value;
      if (typeof number !== 'number' || !Number.isSafeInteger(number) || number < 0 || number > rule.max) {
        throw new NpUserError('ERR_NPUSER_BAD_REQUEST');
      }
      values[name] = number;
    }
  }
  return values as FieldValues<R>;
}
