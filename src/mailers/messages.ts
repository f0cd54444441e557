/**
 * The words of the sign-in message, one set per language.
 *
 * Placeholders are written `{name}`: `{appName}` (the `appName` option),
 * `{code}` (the code as one string of digits, only in `subjectWithCode`) and
 * `{duration}` (the code's lifetime, already localised: "10 minutes",
 * "10 Minuten"). Text is plain: the HTML part escapes it, so a `<` shows as a `<`.
 *
 * @example
 * ```ts
 * import { NpUser, type CodeMessageStrings } from 'npuser';
 * import { nodemailerMailer } from 'npuser/mailers/nodemailer';
 *
 * const nl: CodeMessageStrings = {
 *   subject: 'Je inlogcode voor {appName}',
 *   subjectWithCode: '{code} is je inlogcode voor {appName}',
 *   intro: 'Je code om in te loggen bij {appName}:',
 *   lifetime: 'Hij werkt één keer, {duration} lang.',
 *   ignore: 'Heb je deze code niet aangevraagd? Negeer dan dit bericht: zonder de code kan niemand inloggen.',
 * };
 * const mailer = nodemailerMailer({ transporter, from: 'My blog <no-reply@blog.example>', strings: { nl } });
 * ```
 */
export interface CodeMessageStrings {
  /** The subject. It should not contain `{code}`: lock screens and notifications show subjects. */
  readonly subject: string;
  /** The subject when the mailer is given `codeInSubject: true`; the one string that may use `{code}`. */
  readonly subjectWithCode: string;
  /** The line just above the code. */
  readonly intro: string;
  /** The line under the code: how long it works, with `{duration}`. */
  readonly lifetime: string;
  /** What to do with a message you did not ask for. */
  readonly ignore: string;
}

/**
 * The keys of {@link CodeMessageStrings}, in the order they appear in a message.
 * @internal
 */
export const STRING_KEYS = [
  'subject',
  'subjectWithCode',
  'intro',
  'lifetime',
  'ignore',
] as const satisfies readonly (keyof CodeMessageStrings)[];

/**
 * The built-in translations, keyed by lowercase BCP 47 language tag: English
 * (`en`), French (`fr`), German (`de`), Spanish (`es`) and Portuguese (`pt`).
 * A regional tag falls back to its language (`pt-BR` → `pt`, `fr-CA` → `fr`),
 * and a language with no strings to English. Apps add or adjust languages with
 * the `strings` option of the mailers and of `renderCodeMessage`.
 *
 * @example
 * ```ts
 * import { CODE_MESSAGE_STRINGS } from 'npuser';
 * const french = CODE_MESSAGE_STRINGS.fr.subject; // 'Votre code de connexion à {appName}'
 * ```
 */
export const CODE_MESSAGE_STRINGS: Readonly<Record<'en' | 'fr' | 'de' | 'es' | 'pt', CodeMessageStrings>> = deepFreeze({
  en: {
    subject: 'Your {appName} sign-in code',
    subjectWithCode: '{code} is your {appName} sign-in code',
    intro: 'Your code to sign in to {appName}:',
    lifetime: 'It works once, for {duration}.',
    ignore: 'If you did not ask for this code, ignore this message: nobody can sign in without it.',
  },
  // French typography puts a no-break space before the colon.
  fr: {
    subject: 'Votre code de connexion à {appName}',
    subjectWithCode: '{code} est votre code de connexion à {appName}',
    intro: 'Votre code pour vous connecter à {appName}\u00a0:',
    lifetime: 'Il ne fonctionne qu’une fois, pendant {duration}.',
    ignore: 'Si vous n’avez pas demandé ce code, ignorez ce message\u00a0: personne ne peut se connecter sans lui.',
  },
  de: {
    subject: 'Ihr Anmeldecode für {appName}',
    subjectWithCode: '{code} ist Ihr Anmeldecode für {appName}',
    intro: 'Ihr Code für die Anmeldung bei {appName}:',
    lifetime: 'Er gilt {duration} lang und nur ein einziges Mal.',
    ignore: 'Wenn Sie diesen Code nicht angefordert haben, ignorieren Sie diese Nachricht: Ohne den Code kann sich niemand anmelden.',
  },
  es: {
    subject: 'Tu código de acceso a {appName}',
    subjectWithCode: '{code} es tu código de acceso a {appName}',
    intro: 'Tu código para iniciar sesión en {appName}:',
    lifetime: 'Funciona una sola vez, durante {duration}.',
    ignore: 'Si no has pedido este código, ignora este mensaje: nadie puede iniciar sesión sin él.',
  },
  // Worded to read naturally in both Brazil and Portugal, since `pt-BR` and `pt-PT` both land here.
  pt: {
    subject: 'Código de acesso para {appName}',
    subjectWithCode: '{code} é o seu código de acesso para {appName}',
    intro: 'O seu código para entrar em {appName}:',
    lifetime: 'Funciona uma única vez, durante {duration}.',
    ignore: 'Caso não tenha pedido este código, ignore esta mensagem: ninguém pode entrar sem ele.',
  },
});

function deepFreeze<T extends Record<string, object>>(table: T): T {
  for (const value of Object.values(table)) Object.freeze(value);
  return Object.freeze(table);
}
