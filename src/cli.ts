/**
 * The `npuser` command.
 *
 * ```sh
 * npx npuser keys generate              # an Ed25519 (EdDSA) signing key as JWK
 * npx npuser keys generate --alg ES256  # a P-256 key instead
 * ```
 *
 * @internal
 * @module
 */
import { generateKeyPairSync } from 'node:crypto';
import { parseArgs } from 'node:util';
import { resolveSigningKeys } from './lib/signing-keys.js';

const USAGE = `Usage: npuser keys generate [--alg EdDSA|ES256] [--kid <id>]

Prints a new signing key pair as JSON Web Keys:
  privateKey  for the app that signs: options.signingKeys (keep it secret)
  publicKey   for anyone who verifies; np.jwks() publishes it too

Put privateKey, as one line of JSON, in the app's environment and load it:
  new NpUser({ secret, signingKeys: [JSON.parse(process.env.NPUSER_SIGNING_KEY)] })
`;

/** @internal */
export function generateSigningKey(alg: string, kid?: string): { privateKey: object; publicKey: object } {
  const pair =
    alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : undefined;
  if (pair === undefined) throw new TypeError(`unknown --alg ${alg}: use EdDSA or ES256`);
  // Checked here, in the command's own words: the option check below would
  // name `options.signingKeys[0]`, which the person at the terminal never wrote.
  if (kid !== undefined && (kid.length === 0 || kid.length > 128)) throw new TypeError('--kid must be 1–128 characters');
  const [resolved] = resolveSigningKeys([kid === undefined ? pair.privateKey : { kid, key: pair.privateKey }]) ?? [];
  if (resolved === undefined) throw new Error('key generation failed');
  const privateJwk = pair.privateKey.export({ format: 'jwk' });
  return {
    privateKey: { ...privateJwk, kid: resolved.kid, alg: resolved.alg, use: 'sig' },
    publicKey: resolved.publicJwk,
  };
}

function main(argv: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { alg: { type: 'string', default: 'EdDSA' }, kid: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (positionals.join(' ') !== 'keys generate') {
    process.stderr.write(USAGE);
    return 2;
  }
  try {
    const pair = generateSigningKey(values.alg, values.kid);
    process.stdout.write(`${JSON.stringify(pair, null, 2)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`npuser: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}

const args = process.argv.slice(2);
// `npuser serve` and `npuser keys create` (src/serve/), loaded only for them.
if (args[0] === 'serve' || (args[0] === 'keys' && args[1] === 'create')) void import('./serve/cli.js').then((m) => m.runServeCommand(args));
else process.exitCode = main(args);
