import { randomInt } from 'node:crypto';
import { NpUserError } from '../errors.js';

// A submitted code longer than this is refused before any other work.
const MAX_SUBMITTED_LENGTH = 64;
// Users may type "042 917" or "042-917"; only ASCII space and hyphen are forgiven.
const SEPARATORS = /[ -]/g;

/**
 * A uniform code of `length` decimal digits from the CSPRNG, leading zeros kept.
 * `crypto.randomInt` rejects and redraws rather than reducing modulo 10^n, so
 * every code is equally likely.
 * @internal
 */
export function randomCode(length: number): string {
  return randomInt(0, 10 ** length)
    .toString()
    .padStart(length, '0');
}

/**
 * The digits of a submitted code, or `ERR_NPUSER_INVALID_CODE` without touching
 * anything. Never parses as a number: hex, exponents, decimals, full-width
 * digits and signs are all refused.
 *
 * @throws TypeError when `input` is not a string.
 * @internal
 */
export function normalizeSubmittedCode(input: unknown, length: number): string {
  if (typeof input !== 'string') throw new TypeError('npuser: code must be a string');
  if (input.length > MAX_SUBMITTED_LENGTH) throw new NpUserError('ERR_NPUSER_INVALID_CODE');
  const digits = input.replace(SEPARATORS, '');
  if (digits.length !== length || !/^[0-9]+$/.test(digits)) throw new NpUserError('ERR_NPUSER_INVALID_CODE');
  return digits;
}

/**
 * Check what an app's `generateCode` returned.
 * @throws TypeError when it is not exactly `length` ASCII digits.
 * @internal
 */
export function checkGeneratedCode(code: unknown, length: number): string {
  if (typeof code !== 'string' || code.length !== length || !/^[0-9]+$/.test(code)) {
    throw new TypeError(`npuser: options.generateCode must return exactly ${length} ASCII digits`);
  }
  return code;
}
