import { domainToASCII, domainToUnicode } from 'node:url';
import { NpUserError } from '../errors.js';

// RFC 5321 limits: 64 octets of local part, 254 for the whole path.
const MAX_LOCAL_LENGTH = 64;
const MAX_ADDRESS_LENGTH = 254;
// Longer input is refused before any other work, so megabyte strings cost nothing.
const MAX_INPUT_LENGTH = 512;

// RFC 5322 dot-atom over ASCII `atext`: no quotes, comments, brackets, commas,
// spaces or control characters, so an address can never become a list or a header.
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
// Valid atext that some mail software still reads as more than a mailbox name:
// `%` and `!` as source routes (`victim%attacker.example@relay.example`), and
// `=?` as the start of an RFC 2047 encoded word that a decoder downstream may
// turn into another address. Refused, so the address that is mailed is the
// address that signs in.
const ROUTING_OR_ENCODED_WORD = /[%!]|=\?/;
// One LDH label (RFC 1123) after IDNA conversion and lowercasing.
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const ALL_DIGITS = /^[0-9]+$/;
// A domain that UTS #46 (what `domainToASCII` applies) would only lowercase and
// that passes every check below: only ASCII letters, digits, hyphens and dots,
// two or more labels of 1 to 63 characters with no hyphen at either end, and no
// label starting `xn--`, which IDNA would decode and validate as punycode. The
// top label may be neither decimal nor `0x` hex: the URL host parser behind
// `domainToASCII` reads such a domain as an IPv4 address (`0x7f.1` becomes
// `127.0.0.1`, `example.0x1f` fails), so it is refused today and must not be
// accepted here. The classes spell both cases out instead of using the `i` flag,
// so no case folding (which under `u` matches the Kelvin sign to `k`) lets a
// non-ASCII character in.
const PLAIN_ASCII_DOMAIN =
  /^(?:(?![Xx][Nn]--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?![Xx][Nn]--|[0-9]+$|0[Xx][0-9A-Fa-f]*$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

function invalid(): never {
  throw new NpUserError('ERR_NPUSER_INVALID_EMAIL');
}

/**
 * The canonical form of an address, as npuser keys, mails and signs it in,
 * or `ERR_NPUSER_INVALID_EMAIL`. Use it to check an allow-list (or to show
 * the address back) exactly as npuser will see it.
 *
 * Canonical means: trimmed; local part ASCII dot-atom lowercased with the
 * locale-independent `toLowerCase`; domain converted to lowercase punycode
 * (UTS #46) and made of at least two LDH labels with a non-numeric top label.
 * Non-ASCII local parts are refused, since that is where case-folding
 * collisions live, and so are `%`, `!` and `=?` (source routes, encoded
 * words); provider rewriting (Gmail dots, `+tags`) is not done, so distinct
 * mailboxes stay distinct. `canonicalEmail(canonicalEmail(x)) === canonicalEmail(x)`.
 *
 * @throws TypeError when `input` is not a string.
 * @throws NpUserError `ERR_NPUSER_INVALID_EMAIL` when npuser would refuse the address.
 *
 * @example
 * ```ts
 * import { NpUser, canonicalEmail } from 'npuser';
 * canonicalEmail('  Ada@Bücher.de '); // 'ada@xn--bcher-kva.de'
 * const team = new Set(['Ada@Example.com', 'grace@example.com'].map((address) => canonicalEmail(address)));
 * const np = new NpUser({ secret: process.env.NPUSER_SECRET!, allowEmail: (address) => team.has(address) });
 * ```
 */
export function canonicalEmail(input: unknown): string {
  if (typeof input !== 'string') throw new TypeError('npuser: email must be a string');
  if (input.length > MAX_INPUT_LENGTH) invalid();
  const trimmed = input.trim();
  const at = trimmed.indexOf('@');
  if (at <= 0 || at !== trimmed.lastIndexOf('@')) invalid();
  const local = trimmed.slice(0, at);
  const domain = trimmed.slice(at + 1);
  if (local.length > MAX_LOCAL_LENGTH || !DOT_ATOM.test(local) || ROUTING_OR_ENCODED_WORD.test(local)) invalid();
  const asciiDomain = domainToAscii(domain);
  const address = `${local.toLowerCase()}@${asciiDomain}`;
  if (address.length > MAX_ADDRESS_LENGTH) invalid();
  return address;
}

function domainToAscii(domain: string): string {
  // Fast path for the common case, which skips IDNA, `split` and the per-label
  // checks: a domain matching PLAIN_ASCII_DOMAIN is one `domainToASCII` maps to
  // its lowercase form and the checks below accept, so that form is the answer.
  // Anything else (non-ASCII, `xn--`, and every refusal) takes the full path.
  if (domain.length <= 253 && PLAIN_ASCII_DOMAIN.test(domain)) return domain.toLowerCase();
  // Only letters, digits, hyphens, dots and non-ASCII letters may reach IDNA:
  // this keeps URL syntax (`/`, `%`, `:`, `[`) and controls out of `domainToASCII`.
  // eslint-disable-next-line no-control-regex -- control characters are what this refuses
  if (domain.length === 0 || /[\u0000-\u002c/:;<=>?@[\\\]^_`{|}~\u007f]/.test(domain)) invalid();
  const ascii = domainToASCII(domain);
  if (ascii.length === 0 || ascii.length > 253) invalid();
  const labels = ascii.split('.');
  if (labels.length < 2) invalid();
  for (const part of labels) if (!LDH_LABEL.test(part)) invalid();
  // A numeric top label would make `a@1.2.3.4` an IP literal in disguise.
  if (ALL_DIGITS.test(labels[labels.length - 1] ?? '')) invalid();
  return ascii;
}

/**
 * A canonical address with its domain shown in Unicode (`xn--bcher-kva.de` →
 * `bücher.de`), the form an SMTPUTF8 server may echo back.
 * @internal
 */
export function unicodeAddress(address: string): string {
  const at = address.lastIndexOf('@');
  return `${address.slice(0, at)}@${domainToUnicode(address.slice(at + 1))}`;
}
