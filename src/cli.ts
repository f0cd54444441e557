/**
 * The `npuser` command.
 *
 * ```sh
 * npx npuser serve --config npuser.json # the service: many apps, an API key each
 * npx npuser keys create --app blog     # a new API key for the app "blog", shown once
 * npx npuser keys generate              # an Ed25519 (EdDSA) signing key as JWK
 * npx npuser keys generate --alg ES256  # a P-256 key instead
 * npx npuser help keys generate         # what a command does and its options
 * ```
 *
 * Commands are rows of one table ({@link COMMANDS}); the words before the first
 * option choose the row, so `npuser serve` or `npuser keys create --app blog`
 * is one more row, and help, usage and errors follow from it.
 *
 * @internal
 * @module
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolveSigningKeys } from './lib/signing-keys.js';

/** One option of a command: what `parseArgs` needs, and what help shows. */
interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly default?: string;
  /** How help writes the value: `<id>`, `EdDSA|ES256`. Only for strings. */
  readonly value?: string;
  readonly description: string;
}

type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** Parsed values, whatever the options. */
type Values = Readonly<Record<string, string | boolean | undefined>>;

/** The parsed values of `O`: booleans, strings, and strings that have a default. */
type ValuesOf<O extends OptionSpecs> = string extends keyof O
  ? Values
  : {
      readonly [K in keyof O]: O[K] extends { type: 'boolean' }
        ? boolean | undefined
        : O[K] extends { default: string }
          ? string
          : string | undefined;
    };

/** What a command writes to; a command never touches `process` itself. */
interface Output {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** A row of the command table. */
interface Command<O extends OptionSpecs = OptionSpecs> {
  /** The words after `npuser`: `['keys', 'generate']`. */
  readonly path: readonly string[];
  /** One line, for the command list. */
  readonly summary: string;
  /** Help before the options (what it does, what it prints). */
  readonly description: string;
  /** Help after the options (how to use what it printed). */
  readonly epilogue?: string;
  /** Positional arguments, as help writes them (`[<command>...]`); without it, none are accepted. */
  readonly operands?: string;
  readonly options: O;
  /**
   * Runs the command; resolves with the exit code. A `TypeError` is the user's
   * mistake (exit code 2, with the usage); anything else is a failure (exit code 1).
   */
  run(values: ValuesOf<O>, operands: readonly string[], out: Output): number | Promise<number>;
}

/** The help option every command and group has. */
const HELP: OptionSpec = { type: 'boolean', short: 'h', description: 'print this help' };

/** Types one row; the table itself holds rows of any options. */
function command<const O extends OptionSpecs>(spec: Command<O>): Command {
  return { ...spec, run: (values, operands, out) => spec.run(values as ValuesOf<O>, operands, out) };
}

/** A new key pair of `alg`, as the private JWK to configure and the public one to publish. */
function generateSigningKey(alg: string, kid?: string): { privateKey: object; publicKey: object } {
  const pair =
    alg === 'EdDSA' ? generateKeyPairSync('ed25519') : alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : undefined;
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

const keysGenerate = command({
  path: ['keys', 'generate'],
  summary: 'print a new signing key pair as JSON Web Keys',
  description: `Prints a new signing key pair as JSON Web Keys:
  privateKey  for the app that signs: options.signingKeys (keep it secret)
  publicKey   for anyone who verifies; np.jwks() publishes it too`,
  epilogue: `Put privateKey, as one line of JSON, in the app's environment and load it:
  new NpUser({ secret, signingKeys: [JSON.parse(process.env.NPUSER_SIGNING_KEY)] })`,
  options: {
    alg: { type: 'string', default: 'EdDSA', value: 'EdDSA|ES256', description: 'Ed25519 (the default) or P-256' },
    kid: { type: 'string', value: '<id>', description: "the key id, 1–128 characters (default: the key's RFC 7638 thumbprint)" },
  },
  run({ alg, kid }, _operands, out) {
    out.stdout(`${JSON.stringify(generateSigningKey(alg, kid), null, 2)}\n`);
    return 0;
  },
});

// The service's commands load src/serve/ (and through it the HTTP layer) only when they run.
const keysCreate = command({
  path: ['keys', 'create'],
  summary: 'print a new API key for an app of the service, once',
  description: `Prints a new API key for the app, once, and the "apiKeys" entry to paste in
the service's configuration (it holds only the key's SHA-256).`,
  epilogue: 'With --test the key is npu_test_…, for an app whose "mode" is "test".',
  options: {
    app: { type: 'string', value: '<id>', description: "the app's id in the configuration (required)" },
    test: { type: 'boolean', description: 'a key for a test-mode app' },
    id: { type: 'string', value: '<key id>', description: "the entry's id (default: k-<random>)" },
    'not-after': { type: 'string', value: '<date-time>', description: 'when the key stops working, e.g. 2027-06-01T00:00:00Z' },
    json: { type: 'boolean', description: 'print one line of JSON instead' },
  },
  async run(values, _operands, out) {
    const { keysCreate: create } = await import('./serve/cli.js');
    return create(values, (text) => {
      out.stdout(text);
    });
  },
});

const serveCommand = command({
  path: ['serve'],
  summary: 'run the npuser service: many apps, an API key each',
  description: `Runs the npuser service over HTTP (see docs/service.md).
Configuration: --config FILE, else NPUSER_CONFIG (a path, or the JSON itself),
else one app from the environment: NPUSER_SECRET, NPUSER_API_KEYS (SHA-256 of
each key, comma-separated), and optionally NPUSER_APP_ID, NPUSER_APP_NAME,
NPUSER_FROM, NPUSER_MODE (live|test).`,
  epilogue: 'Overrides: REDIS_URL, SMTP_URL, PORT (default 8080), HOST (default 127.0.0.1). SIGTERM drains and exits 0.',
  options: {
    config: { type: 'string', short: 'c', value: '<file>', description: 'the JSON configuration' },
  },
  async run({ config }, _operands, out) {
    const { serve } = await import('./serve/cli.js');
    return serve(
      config,
      (text) => {
        out.stdout(text);
      },
      (text) => {
        out.stderr(text);
      },
    );
  },
});

const helpCommand = command({
  path: ['help'],
  summary: 'print the help of a command',
  description: 'Prints what a command does and its options.',
  operands: '[<command>...]',
  options: {},
  run(_values, operands, out) {
    const found = resolve(operands);
    if (found.kind === 'unknown') return misuse(out, `unknown command '${operands.join(' ')}'`, found.group);
    out.stdout(found.kind === 'command' ? commandHelp(found.command) : groupHelp(found.group));
    return 0;
  },
});

/** Every command, in the order help lists them. */
const COMMANDS: readonly Command[] = [serveCommand, keysCreate, keysGenerate, helpCommand];

/** Where some words lead: a command (with the words left over), a group of commands, or nowhere. */
type Resolved =
  | { readonly kind: 'command'; readonly command: Command; readonly rest: readonly string[] }
  | { readonly kind: 'group'; readonly group: readonly string[] }
  /** `group` is the longest known prefix, whose help is the most useful answer. */
  | { readonly kind: 'unknown'; readonly group: readonly string[] };

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return prefix.every((word, i) => path[i] === word);
}

function resolve(words: readonly string[]): Resolved {
  const matches = COMMANDS.filter((c) => startsWith(words, c.path)).sort((a, b) => b.path.length - a.path.length);
  const [match] = matches;
  if (match !== undefined) return { kind: 'command', command: match, rest: words.slice(match.path.length) };
  if (COMMANDS.some((c) => startsWith(c.path, words))) return { kind: 'group', group: words };
  let known = words.length - 1;
  while (known > 0 && !COMMANDS.some((c) => startsWith(c.path, words.slice(0, known)))) known -= 1;
  return { kind: 'unknown', group: words.slice(0, known) };
}

function optionName(name: string, spec: OptionSpec): string {
  return spec.value === undefined ? `--${name}` : `--${name} ${spec.value}`;
}

function optionList(options: OptionSpecs): string {
  const rows = Object.entries(options).map(([name, spec]) => [
    `${spec.short === undefined ? '    ' : `-${spec.short}, `}${optionName(name, spec)}`,
    spec.description,
  ]);
  const width = Math.max(...rows.map(([flag]) => flag?.length ?? 0));
  return rows.map(([flag = '', text = '']) => `  ${flag.padEnd(width)}  ${text}`).join('\n');
}

function synopsis(cmd: Command): string {
  const options = Object.entries(cmd.options).map(([name, spec]) => ` [${optionName(name, spec)}]`);
  return `npuser ${cmd.path.join(' ')}${options.join('')}${cmd.operands === undefined ? '' : ` ${cmd.operands}`}`;
}

function commandHelp(cmd: Command): string {
  const parts = [`Usage: ${synopsis(cmd)}`, cmd.description, `Options:\n${optionList({ ...cmd.options, help: HELP })}`];
  if (cmd.epilogue !== undefined) parts.push(cmd.epilogue);
  return `${parts.join('\n\n')}\n`;
}

/** The top level when `group` is empty: every command, and the global options. */
function groupHelp(group: readonly string[]): string {
  const commands = COMMANDS.filter((c) => startsWith(c.path, group));
  const names = commands.map((c) => `${c.path.join(' ')}${c.operands === undefined ? '' : ` ${c.operands}`}`);
  const width = Math.max(...names.map((name) => name.length));
  const list = commands.map((c, i) => `  ${(names[i] ?? '').padEnd(width)}  ${c.summary}`).join('\n');
  const options = optionList(group.length === 0 ? TOP_LEVEL_OPTIONS : { help: HELP });
  const usage = `Usage: npuser ${group.map((word) => `${word} `).join('')}<command> [options]`;
  return `${usage}\n\nCommands:\n${list}\n\nOptions:\n${options}\n\nRun 'npuser help <command>' for the options of one.\n`;
}

const TOP_LEVEL_OPTIONS: OptionSpecs = {
  help: HELP,
  version: { type: 'boolean', short: 'v', description: 'print the version of npuser' },
};

/** Writes the problem and where to read more on stderr; the exit code of a misuse. */
function misuse(out: Output, problem: string, at: Command | readonly string[]): number {
  const usage = 'path' in at ? `Usage: ${synopsis(at)}\nRun 'npuser help ${at.path.join(' ')}' for more.\n` : groupHelp(at);
  out.stderr(`npuser: ${problem}\n${usage}`);
  return 2;
}

/** A mistake in the words typed, reported as a misuse. */
class UsageError extends Error {}

/**
 * Parses `args` against `options` (and `--help`). Unknown options, missing
 * values and values given to a flag are refused in the user's own spelling.
 */
function parse(args: readonly string[], options: OptionSpecs): { values: Values; positionals: string[]; help: boolean } {
  const all: OptionSpecs = { help: HELP, ...options };
  const config = Object.fromEntries(
    Object.entries(all).map(([name, spec]) => [
      name,
      {
        type: spec.type,
        ...(spec.short === undefined ? {} : { short: spec.short }),
        ...(spec.default === undefined ? {} : { default: spec.default }),
      },
    ]),
  );
  // Not strict: parseArgs' own errors name `<value>` and suggest `--`; these name what was typed.
  const { values, positionals, tokens } = parseArgs({
    args: [...args],
    options: config,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const help = tokens.some((t) => t.kind === 'option' && t.name === 'help');
  if (!help) {
    for (const token of tokens) {
      if (token.kind !== 'option') continue;
      const spec = all[token.name];
      if (spec === undefined) throw new UsageError(`unknown option '${token.rawName}'`);
      // `--kid --alg ES256` forgot the id: an option is not taken as a value unless written `--kid=--alg`.
      const missing = token.value === undefined || (!token.inlineValue && token.value.startsWith('-'));
      if (spec.type === 'string' && missing) throw new UsageError(`option '${token.rawName}' needs a value`);
      if (spec.type === 'boolean' && token.value !== undefined) throw new UsageError(`option '${token.rawName}' takes no value`);
    }
  }
  return { values, positionals, help };
}

function version(): string {
  const manifest: unknown = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  const value = typeof manifest === 'object' && manifest !== null && 'version' in manifest ? manifest.version : undefined;
  if (typeof value !== 'string') throw new Error('package.json has no version');
  return value;
}

function runGroup(group: readonly string[], args: readonly string[], out: Output): number {
  const options = group.length === 0 ? TOP_LEVEL_OPTIONS : {};
  let parsed;
  try {
    parsed = parse(args, options);
  } catch (err) {
    if (err instanceof UsageError) return misuse(out, err.message, group);
    throw err;
  }
  if (parsed.help) {
    out.stdout(groupHelp(group));
    return 0;
  }
  if (parsed.values['version'] === true) {
    out.stdout(`${version()}\n`);
    return 0;
  }
  if (parsed.positionals.length > 0) return misuse(out, `unexpected argument '${parsed.positionals.join(' ')}'`, group);
  return group.length === 0 ? misuse(out, 'no command given', group) : misuse(out, `'${group.join(' ')}' needs a command`, group);
}

async function runCommand(cmd: Command, args: readonly string[], out: Output): Promise<number> {
  let parsed;
  try {
    parsed = parse(args, cmd.options);
  } catch (err) {
    if (err instanceof UsageError) return misuse(out, err.message, cmd);
    throw err;
  }
  if (parsed.help) {
    out.stdout(commandHelp(cmd));
    return 0;
  }
  const [extra] = parsed.positionals;
  if (cmd.operands === undefined && extra !== undefined) return misuse(out, `unexpected argument '${extra}'`, cmd);
  try {
    return await cmd.run(parsed.values, parsed.positionals, out);
  } catch (err) {
    if (err instanceof TypeError) return misuse(out, err.message, cmd);
    out.stderr(`npuser: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

/** Runs `npuser <argv>`; resolves with the exit code: 0, 1 when it failed, 2 when it was misused. */
async function main(argv: readonly string[], out: Output): Promise<number> {
  // The words before the first option name the command; `--` ends them too.
  const end = argv.findIndex((arg) => arg.startsWith('-'));
  const words = end === -1 ? argv : argv.slice(0, end);
  const args = argv.slice(words.length);
  const found = resolve(words);
  switch (found.kind) {
    case 'command':
      return runCommand(found.command, [...found.rest, ...args], out);
    case 'group':
      return runGroup(found.group, args, out);
    case 'unknown':
      return misuse(out, `unknown command '${words.join(' ')}'`, found.group);
  }
}

process.exitCode = await main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
