import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { NpUser } from 'npuser';
import { memoryMailer } from 'npuser/testing';
import { deriveSigningKey } from '../../bench/derive-signing-key.js';
import { readRecordConstant, readStringConstant } from '../../scripts/read-constant.js';
import { EMAIL, SECRET } from '../support/helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'npuser-read-constant-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let written = 0;
function source(text: string): string {
  written += 1;
  const file = join(dir, `source-${written}.ts`);
  writeFileSync(file, text);
  return file;
}

describe('readRecordConstant, readStringConstant', () => {
  it('read literals through `as const`, `satisfies` and parentheses, without running the file', () => {
    const file = source(`import { missing } from './nowhere.js';
missing();
export const TABLE = ({ a: 'x', 'b-c': \`y\` } as const) satisfies Record<string, string>;
const SALT = 'npuser/v1' as const;
let LOOSE = 'not a constant';
`);
    expect(readRecordConstant(file, 'TABLE')).toEqual({ a: 'x', 'b-c': 'y' });
    expect(readStringConstant(file, 'SALT')).toBe('npuser/v1');
    expect(() => readStringConstant(file, 'LOOSE')).toThrow(/no top-level `const LOOSE = …`/);
  });

  it('refuse anything the reader would have to evaluate, naming the constant', () => {
    const file = source(`const PREFIX = 'p';
export const COMPUTED = { a: PREFIX + 'x' };
export const SPREAD = { ...{ a: 'x' } };
export const NOT_A_STRING = 42;
`);
    expect(() => readRecordConstant(file, 'COMPUTED')).toThrow(/`COMPUTED` must map names to string literals, not `a: PREFIX \+ 'x'`/);
    expect(() => readRecordConstant(file, 'SPREAD')).toThrow(/`SPREAD` must map names to string literals/);
    expect(() => readStringConstant(file, 'NOT_A_STRING')).toThrow(/`NOT_A_STRING` is not a string literal/);
    expect(() => readRecordConstant(file, 'PREFIX')).toThrow(/`PREFIX` is not an object literal/);
  });
});

describe('the benchmark baseline key', () => {
  it('is the key npuser signs with: a token from NpUser verifies under it', async () => {
    const mailer = memoryMailer();
    const np = new NpUser({ secret: SECRET, mailer });
    await np.requestCode(EMAIL);
    const { token, subject } = await np.verifyCode(EMAIL, mailer.lastCodeFor(EMAIL)!);
    const { payload } = await jwtVerify(token, deriveSigningKey(SECRET), { algorithms: ['HS256'], typ: 'npuser+jwt' });
    expect(payload.sub).toBe(subject);
    await expect(jwtVerify(token, deriveSigningKey(`${SECRET} but another`))).rejects.toThrow(/signature/);
  });
});
