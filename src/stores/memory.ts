import { integerOption, functionOption, optionsObject } from '../lib/checks.js';
import { INLINE_TRANSACT, type InlineTransact } from '../lib/guarded-store.js';
import type { CodeStore, StoreCounter, StoreEntry, StoreStep, StoreStepResult } from '../types.js';
import { type CheckedStep, checkExpected, checkKey, checkSteps, checkTtl, checkValue, counterValue, stops } from './steps.js';

/**
 * Options for {@link memoryCodeStore}.
 *
 * @example
 * ```ts
 * import { memoryCodeStore, type MemoryCodeStoreOptions } from 'npuser';
 * const options: MemoryCodeStoreOptions = { maxEntries: 10_000 };
 * const store = memoryCodeStore(options);
 * ```
 */
export interface MemoryCodeStoreOptions {
  /**
   * The most entries held at once (codes and counters together; a pending
   * code takes three or four). When full, the store first sweeps out expired
   * entries (at most once a second); then new entries are refused (npuser
   * answers `ERR_NPUSER_STORE_FAILED`) and nothing live is ever evicted, so a
   * flood of new addresses cannot push out a victim's code or counters. At
   * most 16 777 216 (2²⁴), the most entries a JavaScript `Map` holds.
   * @default 100000
   */
  maxEntries?: number;
  /**
   * The clock deciding expiry, in milliseconds since the epoch. `NpUser`
   * passes its own `now` to the store it creates by default.
   * @default Date.now
   */
  now?: () => number;
}

/**
 * One live entry, as listed by {@link MemoryCodeStore.entries}.
 *
 * @example
 * ```ts
 * import type { MemoryStoreEntry } from 'npuser';
 * const entry: MemoryStoreEntry = { key: '{tag}:code', value: 'v1.…', ttlMs: 600_000 };
 * ```
 */
export interface MemoryStoreEntry extends StoreEntry {
  /** The entry's key, as npuser chose it (a hash tag and a kind). */
  readonly key: string;
}

/**
 * The in-process {@link CodeStore}: codes and counters in a `Map`, compactly
 * encoded, that refuses rather than evicts. For one process only; apps on
 * several machines need a shared store.
 *
 * @example
 * ```ts
 * import { memoryCodeStore } from 'npuser';
 * const store = memoryCodeStore();
 * await store.set('k', 'v', 1000);
 * store.size; // 1
 * ```
 */
export interface MemoryCodeStore extends CodeStore {
  /**
   * How many entries the store holds, in O(1): every live entry, and the
   * expired ones not removed yet (what `maxEntries` bounds). Reads never
   * remove anything; a write removes the expired entries of the keys sharing
   * its hash tag (an address's or a client's: npuser's tags of 43 base64url
   * characters; any other key shares it with none), and a sweep (when the store is full, at most
   * once a second) removes all of them. `entries().length` counts live
   * entries only, in O(size).
   */
  readonly size: number;
  /** Every live entry: for tests and debugging (it holds only hashes and counters). */
  entries(): MemoryStoreEntry[];
  /**
   * Run `steps` in order as one atomic unit (see {@link CodeStore.transact}).
   * Every step is checked before any runs, and the steps' writes are applied
   * together once all have run: a transaction that rejects (a bad step, a
   * value that is not a counter, a full store) has changed nothing.
   */
  transact(steps: readonly StoreStep[]): Promise<StoreStepResult[]>;
}

const WHO = 'memoryCodeStore';
const DEFAULT_MAX_ENTRIES = 100_000;
// V8's Map holds at most 2^24 entries; the store keeps at most one per entry.
const MAX_ENTRIES = 2 ** 24;
// When full, look for expired entries at most this often: a sweep is O(size),
// and a flood of refused requests must not turn into a flood of sweeps.
const SWEEP_INTERVAL_MS = 1000;

// ---------------------------------------------------------------------------
// The encoding. A pending code as plain objects (a Map entry per key, the key
// string, an { value, expiresAt } object, a boxed expiry) takes about 720 bytes
// of heap: code, cooldown and hourly counter under three 50-character keys.
// npuser's keys are `{tag}:kind` with a 43-character base64url tag shared by
// all keys of an address, so entries are grouped by tag: one Map entry per
// tag, keyed by the tag's 32 bytes as a latin1 string, whose value is one
// flat string packing every entry of the tag:
//
//   record := kind expiry length value
//   kind   := one char naming a known kind (0: none), a length, the rest of
//             the key after it (empty but for a prefix kind such as `revoked:`)
//   expiry := the expiry in ms since the epoch: 6 bytes (see encodeExpiry)
//   length := a base-128 varint, one char per 7 bits
//
// Every char is 0–255, so the string is one byte per char unless a value
// itself holds wider characters. A pending code then takes about 210 bytes.
// Keys of any other shape are kept whole, one group each, in a second Map.
// A transaction decodes each group it touches once, works on the decoded
// records, and encodes and stores the groups it wrote once, at the end. The
// group it ended on stays decoded, for the next transaction on the same tag.
// ---------------------------------------------------------------------------

// Kinds npuser writes, so a key's kind is one char; those ending in ':' are
// prefixes. Any other rest of a key is stored in full (kind 0), so this list
// is an optimisation, never a rule, and the encoding lives only in memory.
const KINDS = [
  'code',
  'cooldown',
  'hourly',
  'failures',
  'attempts',
  'client-requests',
  'client-verifications',
  'revoked:',
  'revoked-before',
] as const;

// base64url digit values by char code (-1: not a base64url digit).
const SEXTETS = new Int8Array(128).fill(-1);
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
for (let index = 0; index < BASE64URL.length; index += 1) SEXTETS[BASE64URL.charCodeAt(index)] = index;
const TAG_LENGTH = 43; // base64url of 32 bytes
const tagBytes: number[] = new Array<number>(32).fill(0);

/**
 * The 32 bytes of the tag of a key shaped `{<43 base64url chars>}:<rest>`,
 * as a latin1 string, or undefined for any other key. Only a canonical
 * encoding (the last char's 2 spare bits zero) qualifies, so every tag
 * re-encodes to exactly the text it came from. Hand-decoded: this runs for
 * every key of every call.
 */
function tagOf(key: string): string | undefined {
  if (
    key.length <= TAG_LENGTH + 3 ||
    key.charCodeAt(0) !== 0x7b ||
    key.charCodeAt(TAG_LENGTH + 1) !== 0x7d ||
    key.charCodeAt(TAG_LENGTH + 2) !== 0x3a
  ) {
    return undefined;
  }
  let bits = 0;
  let buffered = 0;
  let out = 0;
  for (let i = 1; i <= TAG_LENGTH; i += 1) {
    const c = key.charCodeAt(i);
    const sextet = c < 128 ? (SEXTETS[c] ?? -1) : -1;
    if (sextet < 0) return undefined;
    bits = ((bits << 6) | sextet) & 0xffff;
    buffered += 6;
    if (buffered >= 8) {
      buffered -= 8;
      tagBytes[out++] = (bits >> buffered) & 0xff;
    }
  }
  // 43 × 6 = 258 bits: the 2 left over must be zero.
  if ((bits & 0b11) !== 0) return undefined;
  return String.fromCharCode.apply(null, tagBytes);
}

const NO_KIND = '\u0000\u0000';
// Expiries are whole milliseconds in six bytes, little-endian. Six 0xff bytes
// (never a time: the year 10889) escape to the 8 bytes of a float64, for an
// expiry that is fractional, negative or not finite.
const EXPIRY_BYTES = 6;
const ESCAPE = 2 ** 48 - 1;
const ESCAPED = '\u00ff'.repeat(EXPIRY_BYTES);
const float = new Float64Array(1);
const floatBytes = new Uint8Array(float.buffer);

function encodeExpiry(expiresAt: number): string {
  if (Number.isInteger(expiresAt) && expiresAt >= 0 && expiresAt < ESCAPE) {
    // Below 2^32 bitwise; the two high bytes from what is left (exact: all below 2^53).
    const low = expiresAt >>> 0;
    const high = (expiresAt - low) / 0x1_0000_0000;
    return String.fromCharCode(low & 0xff, (low >>> 8) & 0xff, (low >>> 16) & 0xff, low >>> 24, high & 0xff, high >>> 8);
  }
  float[0] = expiresAt;
  const b = floatBytes;
  return ESCAPED + String.fromCharCode(b[0] ?? 0, b[1] ?? 0, b[2] ?? 0, b[3] ?? 0, b[4] ?? 0, b[5] ?? 0, b[6] ?? 0, b[7] ?? 0);
}

/** The expiry at `at` into `view.expiresAt`; returns where the field ends. */
function decodeExpiry(group: string, at: number, view: RecordView): number {
  let value = 0;
  for (let i = EXPIRY_BYTES - 1; i >= 0; i -= 1) value = value * 256 + group.charCodeAt(at + i);
  if (value !== ESCAPE) {
    view.expiresAt = value;
    return at + EXPIRY_BYTES;
  }
  for (let i = 0; i < 8; i += 1) floatBytes[i] = group.charCodeAt(at + EXPIRY_BYTES + i);
  view.expiresAt = float[0] ?? Number.NaN;
  return at + EXPIRY_BYTES + 8;
}

function varint(n: number): string {
  if (n < 0x80) return String.fromCharCode(n);
  let text = '';
  let rest = n;
  while (rest >= 0x80) {
    text += String.fromCharCode(0x80 | (rest % 0x80));
    rest = Math.floor(rest / 0x80);
  }
  return text + String.fromCharCode(rest);
}

/** Where one key lives: its Map, its group's key in it, and its encoded kind. */
interface Place {
  groups: Map<string, string>;
  group: string;
  /** The whole key, for a key of a tagged group; undefined for a plain one (its own group). */
  key: string | undefined;
  /** Its encoded kind, once {@link kindOf} has made it: a read of a group that does not exist never needs it. */
  kind: string | undefined;
}

function kindOf(where: Place): string {
  where.kind ??= where.key === undefined ? NO_KIND : encodeKind(where.key.slice(TAG_LENGTH + 3));
  return where.kind;
}

/** One record of a group, as positions in the group string. */
interface RecordView {
  kindEnd: number;
  expiresAt: number;
  valueStart: number;
  end: number;
}

/** Read the record at `pos` into `view`; returns `view`. */
function readRecord(group: string, pos: number, view: RecordView): RecordView {
  let at = pos + 1;
  let length = 0;
  for (let shift = 1; ; shift *= 0x80) {
    const c = group.charCodeAt(at++);
    length += (c & 0x7f) * shift;
    if (c < 0x80) break;
  }
  view.kindEnd = at + length;
  at = decodeExpiry(group, view.kindEnd, view);
  length = 0;
  for (let shift = 1; ; shift *= 0x80) {
    const c = group.charCodeAt(at++);
    length += (c & 0x7f) * shift;
    if (c < 0x80) break;
  }
  view.valueStart = at;
  view.end = at + length;
  return view;
}

/** An entry that is not expired at `at`. An expiry that is not finite is no expiry: expired. */
const isLive = (expiresAt: number, at: number) => Number.isFinite(expiresAt) && at < expiresAt;

/** A fresh, flat copy of `text`: a Map must not keep the caller's string (a slice or a rope of a larger one). */
function flatCopy(text: string): string {
  return Buffer.from(text, 'utf16le').toString('utf16le');
}

const KIND_FIELDS = new Map<string, string>(KINDS.map((kind, index) => [kind, `${String.fromCharCode(index + 1)}\u0000`]));

// Kinds that end in ':' are prefixes (`revoked:<id>`): the rest after them is stored.
const PREFIX_KINDS = KINDS.flatMap((kind, index) => (kind.endsWith(':') ? [[kind, String.fromCharCode(index + 1)] as const] : []));

/** A known kind as its one char and an empty rest; a known prefix as its char and the rest; anything else whole. */
function encodeKind(rest: string): string {
  const known = KIND_FIELDS.get(rest);
  if (known !== undefined) return known;
  for (const [prefix, code] of PREFIX_KINDS) {
    if (rest.startsWith(prefix)) return code + varint(rest.length - prefix.length) + rest.slice(prefix.length);
  }
  return NO_KIND.charAt(0) + varint(rest.length) + rest;
}

function decodeKind(group: string, pos: number, view: RecordView): string {
  const code = group.charCodeAt(pos);
  let at = pos + 1;
  while (group.charCodeAt(at) >= 0x80) at += 1;
  return (code === 0 ? '' : (KINDS[code - 1] ?? '')) + group.slice(at + 1, view.kindEnd);
}

/** What a transaction has written so far to one key: a value and expiry, or deleted. */
interface Staged {
  readonly place: Place;
  readonly value: string | undefined;
  readonly expiresAt: number;
}

/**
 * Strip the expiry of the entry under `key` of a store made by
 * {@link memoryCodeStore}, as a store bug would: for the contract's case of
 * an entry found without an expiry. Returns whether there was such an entry.
 * @internal
 */
export function removeExpiryForTesting(store: CodeStore, key: string): boolean {
  const remove = hooks.get(store);
  if (remove === undefined) throw new TypeError('npuser: removeExpiryForTesting needs a store made by memoryCodeStore');
  return remove(key);
}

const hooks = new WeakMap<CodeStore, (key: string) => boolean>();

/**
 * Create the default, in-process {@link CodeStore}.
 *
 * Every operation, `transact` included, runs synchronously inside one call,
 * so it is atomic in a single Node.js process: no other call sees a state in
 * between. Entries expire at exactly `ttlMs` on the store's clock, whatever
 * the caller's clock says.
 *
 * An expired entry is invisible at once: reads never change the store, and
 * the entry is removed by the next write to a key with the same hash tag or
 * by a sweep. An entry found without a finite expiry (a store bug: the store
 * itself never writes one) counts as expired, for every operation alike: it
 * reads as missing, `consume` does not return it, `increment` starts a new
 * counter at 1 with its own TTL, and the next write or sweep removes it.
 *
 * A full store (`maxEntries`) refuses a write that would add entries: it first
 * sweeps out expired entries (at most once a second), and if there is still
 * no room the call rejects and nothing live is evicted. A transaction's
 * writes are applied together, so a refused transaction changes nothing.
 *
 * @throws TypeError when `maxEntries` is not an integer from 1 to 2²⁴ or `now` is not a function.
 *
 * @example
 * ```ts
 * import { NpUser, memoryCodeStore } from 'npuser';
 * const np = new NpUser({
 *   secret: process.env.NPUSER_SECRET!,
 *   store: memoryCodeStore({ maxEntries: 50_000 }),
 * });
 * ```
 */
export function memoryCodeStore(options: MemoryCodeStoreOptions = {}): MemoryCodeStore {
  const given = optionsObject<MemoryCodeStoreOptions>(WHO, options, {});
  const maxEntries = integerOption(WHO, 'maxEntries', given.maxEntries, DEFAULT_MAX_ENTRIES, 1, MAX_ENTRIES);
  const now = functionOption<() => number>(WHO, 'now', given.now) ?? Date.now;

  // Groups keyed by a tag's 32 bytes, and groups of any other key, keyed by the whole key.
  const tagged = new Map<string, string>();
  const plain = new Map<string, string>();
  // Records in all groups, expired ones included until a write or a sweep removes them.
  let held = 0;
  let lastSweep = Number.NEGATIVE_INFINITY;
  let sweeps = 0;
  const view: RecordView = { kindEnd: 0, expiresAt: 0, valueStart: 0, end: 0 };

  function clock(): number {
    const at = now();
    // NaN or ±Infinity would make every entry live for ever, or none: refuse instead.
    if (typeof at !== 'number' || !Number.isFinite(at))
      throw new Error(`npuser: ${WHO} options.now returned something other than a finite number`);
    return at;
  }

  // The `{tag}:` of the last tagged key and its decoded tag: the keys of one
  // call share their tag, so it is decoded once, and the Map looks up a
  // string whose hash it already knows.
  let lastPrefix = '';
  let lastTag = '';

  /**
   * Where `key` lives, in `into` when given (a transaction reuses one for all
   * its steps, since it is done with a step's place before the next) or in a
   * new object.
   */
  function place(key: string, into?: Place): Place {
    let tag: string | undefined;
    // Slice and compare rather than `startsWith`: keys are usually ropes (`${tag}:code`), and
    // `startsWith` on a rope takes V8's slow path, at about three times the cost.
    const prefix = key.length > TAG_LENGTH + 3 ? key.slice(0, TAG_LENGTH + 3) : '';
    if (prefix !== '' && prefix === lastPrefix) {
      tag = lastTag;
    } else {
      tag = tagOf(key);
      if (tag === undefined) return placed(into, plain, key, undefined, NO_KIND);
      lastPrefix = prefix;
      lastTag = tag;
    }
    return placed(into, tagged, tag, key, undefined);
  }

  function placed(
    into: Place | undefined,
    groups: Map<string, string>,
    group: string,
    key: string | undefined,
    kind: string | undefined,
  ): Place {
    if (into === undefined) return { groups, group, key, kind };
    into.groups = groups;
    into.group = group;
    into.key = key;
    into.kind = kind;
    return into;
  }

  /** The live entry at `where`, or undefined. Never changes the store. */
  function lookup(where: Place, at: number): { value: string; expiresAt: number } | undefined {
    const group = where.groups.get(where.group);
    if (group === undefined) return undefined;
    for (let pos = 0; pos < group.length; pos = view.end) {
      readRecord(group, pos, view);
      if (view.kindEnd - pos === kindOf(where).length && group.startsWith(kindOf(where), pos)) {
        return isLive(view.expiresAt, at) ? { value: group.slice(view.valueStart, view.end), expiresAt: view.expiresAt } : undefined;
      }
    }
    return undefined;
  }

  /**
   * A group rebuilt: its expired records dropped, `changes` (by encoded kind)
   * applied. Returns the new string ('' for an empty group) and its record count.
   */
  function rebuild(group: string, changes: ReadonlyMap<string, Staged>, at: number): [string, number] {
    const parts: string[] = [];
    let records = 0;
    const written = new Set<string>();
    for (let pos = 0; pos < group.length; pos = view.end) {
      readRecord(group, pos, view);
      const kind = group.slice(pos, view.kindEnd);
      const change = changes.get(kind);
      if (change !== undefined) {
        written.add(kind);
        if (change.value !== undefined) {
          parts.push(kind, encodeExpiry(change.expiresAt), varint(change.value.length), change.value);
          records += 1;
        }
      } else if (isLive(view.expiresAt, at)) {
        parts.push(group.slice(pos, view.end));
        records += 1;
      }
    }
    for (const [kind, change] of changes) {
      if (written.has(kind) || change.value === undefined) continue;
      parts.push(kind, encodeExpiry(change.expiresAt), varint(change.value.length), change.value);
      records += 1;
    }
    // join builds one flat string: nothing of the parts (slices of the old group, the caller's value) is kept.
    return [parts.join(''), records];
  }

  function countRecords(group: string): number {
    let records = 0;
    for (let pos = 0; pos < group.length; pos = view.end) {
      readRecord(group, pos, view);
      records += 1;
    }
    return records;
  }

  function sweep(at: number): void {
    lastSweep = at;
    sweeps += 1;
    recent = undefined;
    const none = new Map<string, Staged>();
    for (const groups of [tagged, plain]) {
      for (const [key, group] of groups) {
        const before = countRecords(group);
        const [after, records] = rebuild(group, none, at);
        held += records - before;
        if (records === 0) groups.delete(key);
        else if (records !== before) groups.set(key, after);
      }
    }
  }

  /** One record of a group, decoded for a transaction; `value` undefined: deleted by it. */
  interface Rec {
    readonly kind: string;
    expiresAt: number;
    value: string | undefined;
    /** The record as the group held it, while the transaction has not written it: re-encoded as it was. */
    encoded: string | undefined;
  }

  /** A group a transaction touches, decoded once and re-encoded once, if it wrote to it. */
  interface Touched {
    readonly groups: Map<string, string>;
    readonly key: string;
    /** In the group's order; a record of a kind new to the group goes last. */
    readonly records: Rec[];
    /** Records the group held before (expired ones included): what `held` counted. */
    readonly before: number;
    dirty: boolean;
    /** Set by `commit`: the new text and how many records it keeps. */
    text: string;
    kept: number;
  }

  function decode(group: string): Rec[] {
    const records: Rec[] = [];
    for (let pos = 0; pos < group.length; pos = view.end) {
      readRecord(group, pos, view);
      records.push({
        kind: group.slice(pos, view.kindEnd),
        expiresAt: view.expiresAt,
        value: group.slice(view.valueStart, view.end),
        encoded: group.slice(pos, view.end),
      });
    }
    return records;
  }

  /**
   * Sets `group.text` to the group's records without the expired and deleted
   * ones, and `group.kept` to their number. `group.records` keeps only those,
   * each then read from the new text as `decode` would read it.
   */
  function encode(group: Touched, at: number): void {
    const parts: string[] = [];
    const { records } = group;
    let kept = 0;
    for (const record of records) {
      const { kind, expiresAt, value, encoded } = record;
      if (value === undefined || !isLive(expiresAt, at)) continue;
      // A record the transaction did not write is copied as it was encoded.
      if (encoded !== undefined) parts.push(encoded);
      else parts.push(kind + encodeExpiry(expiresAt) + varint(value.length) + value);
      records[kept++] = record;
    }
    records.length = kept;
    // join builds one new flat string from two parts or more, so nothing of the old group or the caller's
    // values is kept; one part would be returned as it is (a slice of the old group): copied instead.
    const text = parts.length === 1 ? flatCopy(parts[0] ?? '') : parts.join('');
    // The records as slices of the new text: what the next transaction on the group starts from.
    let pos = 0;
    for (let index = 0; index < kept; index += 1) {
      const record = records[index] as Rec;
      const end = pos + (parts[index] as string).length;
      record.value = text.slice(end - (record.value as string).length, end);
      record.encoded = text.slice(pos, end);
      pos = end;
    }
    group.text = text;
    group.kept = kept;
  }

  /**
   * Write the touched groups back, all of them or none: a full store first
   * sweeps (at most once a second), then refuses.
   */
  function commit(touched: readonly Touched[], at: number): void {
    let added = 0;
    let writes = 0;
    for (const group of touched) {
      if (!group.dirty) continue;
      encode(group, at);
      added += group.kept - group.before;
      writes += 1;
    }
    if (writes === 0) return;
    // What each group holds now: a sweep may have dropped some of its expired records.
    let swept = false;
    if (held + added > maxEntries && at - lastSweep >= SWEEP_INTERVAL_MS) {
      sweep(at);
      swept = true;
      added = 0;
      for (const group of touched) if (group.dirty) added += group.kept - countRecords(group.groups.get(group.key) ?? '');
    }
    if (held + added > maxEntries) throw new Error(`npuser: ${WHO} is full (${maxEntries} entries)`);
    for (const group of touched) {
      if (!group.dirty) continue;
      const { groups, key, kept, text } = group;
      const had = swept ? countRecords(groups.get(key) ?? '') : group.before;
      held += kept - had;
      if (kept === 0) groups.delete(key);
      // A new plain group keeps its own copy of the key (the caller's string may be a slice of a
      // larger one); a tag is always a string of the store's own making.
      else if (groups === plain && had === 0 && !groups.has(key)) groups.set(flatCopy(key), text);
      else groups.set(key, text);
    }
  }

  // The records of the group the last transaction ended on, as the Map holds them now: the next transaction
  // on the same group (a sign-in's second and third, a renewal's reads) starts from them instead of decoding
  // the string again. Taken by the transaction that uses them, set again only once its commit has succeeded,
  // and dropped by anything else that rewrites groups (a sweep, the testing hook), so never stale.
  let recent: { readonly groups: Map<string, string>; readonly key: string; readonly records: Rec[] } | undefined;

  /** The decoded group of `where` among `touched`, decoded now if it is the first step to touch it. */
  function touch(touched: Touched[], where: Place): Touched {
    for (const group of touched) if (group.groups === where.groups && group.key === where.group) return group;
    let records: Rec[];
    if (recent !== undefined && recent.groups === where.groups && recent.key === where.group) {
      records = recent.records;
      recent = undefined;
    } else {
      const text = where.groups.get(where.group);
      records = text === undefined ? [] : decode(text);
    }
    const group: Touched = { groups: where.groups, key: where.group, records, before: records.length, dirty: false, text: '', kept: 0 };
    touched.push(group);
    return group;
  }

  // The place of the step a transaction is running: one object for every step of every transaction.
  const stepPlace: Place = { groups: tagged, group: '', key: undefined, kind: undefined };

  /** Give the record of `where` in `group` a value and an expiry: in its own place, or last in the group. */
  function write(group: Touched, where: Place, record: Rec | undefined, value: string | undefined, expiresAt: number): void {
    group.dirty = true;
    if (record === undefined) {
      if (value !== undefined) group.records.push({ kind: kindOf(where), expiresAt, value, encoded: undefined });
      return;
    }
    record.value = value;
    record.expiresAt = expiresAt;
    record.encoded = undefined;
  }

  /**
   * Run checked steps, all or nothing: each group a step touches is decoded
   * once, the steps read and write the decoded records, and the groups they
   * wrote are encoded and stored once every step has run.
   */
  function run(steps: readonly CheckedStep[]): StoreStepResult[] {
    const at = clock();
    const touched: Touched[] = [];
    const results: StoreStepResult[] = [];
    let group: Touched | undefined;
    for (const step of steps) {
      const where = place(step.key, stepPlace);
      // The keys of one transaction nearly always share one group: the last step's, found without a search.
      group = group !== undefined && group.groups === where.groups && group.key === where.group ? group : touch(touched, where);
      let record: Rec | undefined;
      if (group.records.length > 0) {
        const kind = kindOf(where);
        for (const r of group.records) {
          if (r.kind === kind) {
            record = r;
            break;
          }
        }
      }
      const value = record !== undefined && isLive(record.expiresAt, at) ? record.value : undefined;
      let result: StoreStepResult;
      switch (step.op) {
        case 'get':
          result = value === undefined ? undefined : { value, ttlMs: (record as Rec).expiresAt - at };
          break;
        case 'increment':
          if (value === undefined) {
            write(group, where, record, '1', at + step.ttlMs);
            result = { count: 1, ttlMs: step.ttlMs } satisfies StoreCounter;
          } else {
            const { expiresAt } = record as Rec;
            const count = counterValue(WHO, value) + 1;
            // The counter keeps the expiry it was created with.
            write(group, where, record, String(count), expiresAt);
            result = { count, ttlMs: expiresAt - at } satisfies StoreCounter;
          }
          break;
        case 'set':
          write(group, where, record, step.value, at + step.ttlMs);
          result = undefined;
          break;
        case 'delete':
          write(group, where, record, undefined, 0);
          result = undefined;
          break;
        case 'consume':
          // Another value than expected (a newer code) is left as it is, TTL included.
          if (value === undefined || (step.expected !== undefined && value !== step.expected)) {
            result = undefined;
          } else {
            result = value;
            write(group, where, record, undefined, 0);
          }
          break;
      }
      results.push(result);
      if (stops(WHO, step, result)) break;
    }
    const sweepsBefore = sweeps;
    commit(touched, at);
    // The last step's group is kept decoded: its records are what the Map now holds, unless a sweep
    // rewrote the group under a transaction that did not write it.
    if (group !== undefined && (group.dirty || sweeps === sweepsBefore)) {
      recent = { groups: group.groups, key: group.key, records: group.records };
    }
    return results;
  }

  /** Run one step: what the single methods are. */
  const one = (step: CheckedStep): StoreStepResult => run([step])[0];

  const transact = (steps: readonly StoreStep[]): Promise<StoreStepResult[]> => settle(() => run(checkSteps(WHO, steps)));

  const store: MemoryCodeStore = {
    get size() {
      return held;
    },

    entries() {
      const at = clock();
      const result: MemoryStoreEntry[] = [];
      for (const [groups, isTagged] of [
        [tagged, true],
        [plain, false],
      ] as const) {
        for (const [key, group] of groups) {
          const tag = isTagged ? `{${Buffer.from(key, 'latin1').toString('base64url')}}:` : key;
          for (let pos = 0; pos < group.length; pos = view.end) {
            readRecord(group, pos, view);
            if (!isLive(view.expiresAt, at)) continue;
            const { expiresAt, valueStart, end } = view;
            const entryKey = isTagged ? tag + decodeKind(group, pos, view) : tag;
            result.push({ key: entryKey, value: group.slice(valueStart, end), ttlMs: expiresAt - at });
          }
        }
      }
      return result;
    },

    // Each operation runs to completion synchronously (that is what makes it
    // atomic in one process); `settle` only turns its result or error into a promise.
    set: (key, value, ttlMs) =>
      settle(() => {
        one({ op: 'set', key: checkKey(WHO, key), value: checkValue(WHO, value), ttlMs: checkTtl(WHO, ttlMs) });
      }),

    // A read needs none of a transaction's staging: straight to the entry.
    get: (key) =>
      settle((): StoreEntry | undefined => {
        const where = place(checkKey(WHO, key));
        const at = clock();
        const entry = lookup(where, at);
        return entry && { value: entry.value, ttlMs: entry.expiresAt - at };
      }),

    consume: (key, expected) =>
      settle(() => one({ op: 'consume', key: checkKey(WHO, key), expected: checkExpected(WHO, expected) }) as string | undefined),

    delete: (key) =>
      settle(() => {
        one({ op: 'delete', key: checkKey(WHO, key) });
      }),

    increment: (key, ttlMs) =>
      settle(
        () => one({ op: 'increment', key: checkKey(WHO, key), ttlMs: checkTtl(WHO, ttlMs), stopIfCountAbove: undefined }) as StoreCounter,
      ),

    transact,
  };

  // npuser's own steps, run inline by its GuardedStore: no promise, no deadline (nothing here can hang).
  // npuser's steps already read as `run` reads checked ones: a stop condition left out is one that is not set.
  const inline: InlineTransact = {
    transact,
    run: (steps) => run(steps as readonly CheckedStep[]),
    holdsTag: (key) => {
      // The clock as a transaction reads it: a store whose clock is broken fails the same way here.
      clock();
      const where = place(key);
      return where.key === undefined || tagged.has(where.group);
    },
  };
  Object.defineProperty(store, INLINE_TRANSACT, { value: inline });

  hooks.set(store, (key) => {
    const where = place(checkKey(WHO, key));
    const at = clock();
    const entry = lookup(where, at);
    const group = where.groups.get(where.group);
    if (entry === undefined || group === undefined) return false;
    recent = undefined;
    // At the clock's -Infinity nothing finite has expired: the group is rewritten as it was, but for this entry.
    const change: Staged = { place: where, value: entry.value, expiresAt: Number.POSITIVE_INFINITY };
    const [next, records] = rebuild(group, new Map([[kindOf(where), change]]), Number.NEGATIVE_INFINITY);
    held += records - countRecords(group);
    where.groups.set(where.group, next);
    return true;
  });
  return store;
}

function settle<T>(operation: () => T): Promise<T> {
  try {
    return Promise.resolve(operation());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
