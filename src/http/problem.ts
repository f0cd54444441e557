import { type NpUserErrorCode, isNpUserError } from '../errors.js';
import { textResponse } from './response.js';

/**
 * The HTTP status of each error code, as both HTTP surfaces answer it (RFC
 * 9457 problem details). 401 and 403 are only ever about the caller (its key,
 * its origin), never about the user's code.
 * @internal
 */
export const PROBLEM_STATUS: Readonly<Record<NpUserErrorCode, number>> = Object.freeze({
  ERR_NPUSER_BAD_REQUEST: 400,
  ERR_NPUSER_UNAUTHENTICATED: 401,
  ERR_NPUSER_FORBIDDEN: 403,
  ERR_NPUSER_NOT_FOUND: 404,
  ERR_NPUSER_METHOD_NOT_ALLOWED: 405,
  ERR_NPUSER_PAYLOAD_TOO_LARGE: 413,
  ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_NPUSER_INVALID_EMAIL: 422,
  ERR_NPUSER_INVALID_CODE: 422,
  ERR_NPUSER_INVALID_TOKEN: 401,
  ERR_NPUSER_TOKEN_EXPIRED: 401,
  ERR_NPUSER_TOO_MANY_ATTEMPTS: 429,
  ERR_NPUSER_ADDRESS_LOCKED: 429,
  ERR_NPUSER_RATE_LIMITED: 429,
  ERR_NPUSER_MAILER_FAILED: 502,
  ERR_NPUSER_STORE_FAILED: 503,
  ERR_NPUSER_UNAVAILABLE: 503,
  ERR_NPUSER_INTERNAL: 500,
});

/** The languages problem titles come in: those of the built-in mail. @internal */
export const PROBLEM_LOCALES = ['en', 'fr', 'de', 'es', 'pt'] as const;
/** @internal */
export type ProblemLocale = (typeof PROBLEM_LOCALES)[number];

// One fixed title per code and language: never an address, a code, a token or a key.
const TITLES: Readonly<Record<ProblemLocale, Readonly<Record<NpUserErrorCode, string>>>> = {
  en: {
    ERR_NPUSER_INVALID_EMAIL: 'This email address is not valid.',
    ERR_NPUSER_INVALID_CODE: 'This code is not valid. It may be wrong, expired or already used.',
    ERR_NPUSER_TOO_MANY_ATTEMPTS: 'Too many wrong codes. Request a new code.',
    ERR_NPUSER_ADDRESS_LOCKED: 'Too many failed sign-ins for this address. Try again later.',
    ERR_NPUSER_RATE_LIMITED: 'Too many requests. Try again later.',
    ERR_NPUSER_INVALID_TOKEN: 'You are not signed in.',
    ERR_NPUSER_TOKEN_EXPIRED: 'Your session has expired. Sign in again.',
    ERR_NPUSER_MAILER_FAILED: 'The code could not be sent. Try again later.',
    ERR_NPUSER_STORE_FAILED: 'Sign-in is unavailable right now. Try again later.',
    ERR_NPUSER_BAD_REQUEST: 'The request is malformed.',
    ERR_NPUSER_UNAUTHENTICATED: 'The API key is missing, unknown or expired.',
    ERR_NPUSER_FORBIDDEN: 'This request is not allowed from here.',
    ERR_NPUSER_NOT_FOUND: 'There is nothing at this address.',
    ERR_NPUSER_METHOD_NOT_ALLOWED: 'This method is not allowed here.',
    ERR_NPUSER_PAYLOAD_TOO_LARGE: 'The request is too large.',
    ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE: 'The request has an unsupported content type.',
    ERR_NPUSER_UNAVAILABLE: 'The service is unavailable. Try again later.',
    ERR_NPUSER_INTERNAL: 'Something went wrong. Try again later.',
  },
  fr: {
    ERR_NPUSER_INVALID_EMAIL: 'Cette adresse e-mail n’est pas valide.',
    ERR_NPUSER_INVALID_CODE: 'Ce code n’est pas valide. Il est peut-être erroné, expiré ou déjà utilisé.',
    ERR_NPUSER_TOO_MANY_ATTEMPTS: 'Trop de codes erronés. Demandez un nouveau code.',
    ERR_NPUSER_ADDRESS_LOCKED: 'Trop d’échecs de connexion pour cette adresse. Réessayez plus tard.',
    ERR_NPUSER_RATE_LIMITED: 'Trop de demandes. Réessayez plus tard.',
    ERR_NPUSER_INVALID_TOKEN: 'Vous n’êtes pas connecté.',
    ERR_NPUSER_TOKEN_EXPIRED: 'Votre session a expiré. Reconnectez-vous.',
    ERR_NPUSER_MAILER_FAILED: 'Le code n’a pas pu être envoyé. Réessayez plus tard.',
    ERR_NPUSER_STORE_FAILED: 'La connexion est indisponible pour le moment. Réessayez plus tard.',
    ERR_NPUSER_BAD_REQUEST: 'La requête est mal formée.',
    ERR_NPUSER_UNAUTHENTICATED: 'La clé d’API est absente, inconnue ou expirée.',
    ERR_NPUSER_FORBIDDEN: 'Cette requête n’est pas autorisée depuis cette origine.',
    ERR_NPUSER_NOT_FOUND: 'Il n’y a rien à cette adresse.',
    ERR_NPUSER_METHOD_NOT_ALLOWED: 'Cette méthode n’est pas autorisée ici.',
    ERR_NPUSER_PAYLOAD_TOO_LARGE: 'La requête est trop volumineuse.',
    ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE: 'Le type de contenu de la requête n’est pas pris en charge.',
    ERR_NPUSER_UNAVAILABLE: 'Le service est indisponible. Réessayez plus tard.',
    ERR_NPUSER_INTERNAL: 'Une erreur est survenue. Réessayez plus tard.',
  },
  de: {
    ERR_NPUSER_INVALID_EMAIL: 'Diese E-Mail-Adresse ist ungültig.',
    ERR_NPUSER_INVALID_CODE: 'Dieser Code ist ungültig. Er ist vielleicht falsch, abgelaufen oder schon benutzt.',
    ERR_NPUSER_TOO_MANY_ATTEMPTS: 'Zu viele falsche Codes. Fordern Sie einen neuen Code an.',
    ERR_NPUSER_ADDRESS_LOCKED: 'Zu viele fehlgeschlagene Anmeldungen für diese Adresse. Versuchen Sie es später erneut.',
    ERR_NPUSER_RATE_LIMITED: 'Zu viele Anfragen. Versuchen Sie es später erneut.',
    ERR_NPUSER_INVALID_TOKEN: 'Sie sind nicht angemeldet.',
    ERR_NPUSER_TOKEN_EXPIRED: 'Ihre Sitzung ist abgelaufen. Melden Sie sich erneut an.',
    ERR_NPUSER_MAILER_FAILED: 'Der Code konnte nicht gesendet werden. Versuchen Sie es später erneut.',
    ERR_NPUSER_STORE_FAILED: 'Die Anmeldung ist gerade nicht verfügbar. Versuchen Sie es später erneut.',
    ERR_NPUSER_BAD_REQUEST: 'Die Anfrage ist fehlerhaft.',
    ERR_NPUSER_UNAUTHENTICATED: 'Der API-Schlüssel fehlt, ist unbekannt oder abgelaufen.',
    ERR_NPUSER_FORBIDDEN: 'Diese Anfrage ist von hier aus nicht erlaubt.',
    ERR_NPUSER_NOT_FOUND: 'Unter dieser Adresse gibt es nichts.',
    ERR_NPUSER_METHOD_NOT_ALLOWED: 'Diese Methode ist hier nicht erlaubt.',
    ERR_NPUSER_PAYLOAD_TOO_LARGE: 'Die Anfrage ist zu groß.',
    ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE: 'Der Inhaltstyp der Anfrage wird nicht unterstützt.',
    ERR_NPUSER_UNAVAILABLE: 'Der Dienst ist nicht verfügbar. Versuchen Sie es später erneut.',
    ERR_NPUSER_INTERNAL: 'Etwas ist schiefgegangen. Versuchen Sie es später erneut.',
  },
  es: {
    ERR_NPUSER_INVALID_EMAIL: 'Esta dirección de correo no es válida.',
    ERR_NPUSER_INVALID_CODE: 'Este código no es válido. Puede ser incorrecto, haber caducado o estar ya usado.',
    ERR_NPUSER_TOO_MANY_ATTEMPTS: 'Demasiados códigos incorrectos. Solicite un código nuevo.',
    ERR_NPUSER_ADDRESS_LOCKED: 'Demasiados inicios de sesión fallidos para esta dirección. Inténtelo más tarde.',
    ERR_NPUSER_RATE_LIMITED: 'Demasiadas solicitudes. Inténtelo más tarde.',
    ERR_NPUSER_INVALID_TOKEN: 'No ha iniciado sesión.',
    ERR_NPUSER_TOKEN_EXPIRED: 'Su sesión ha caducado. Vuelva a iniciar sesión.',
    ERR_NPUSER_MAILER_FAILED: 'No se pudo enviar el código. Inténtelo más tarde.',
    ERR_NPUSER_STORE_FAILED: 'El inicio de sesión no está disponible ahora. Inténtelo más tarde.',
    ERR_NPUSER_BAD_REQUEST: 'La solicitud está mal formada.',
    ERR_NPUSER_UNAUTHENTICATED: 'La clave de API falta, es desconocida o ha caducado.',
    ERR_NPUSER_FORBIDDEN: 'Esta solicitud no está permitida desde aquí.',
    ERR_NPUSER_NOT_FOUND: 'No hay nada en esta dirección.',
    ERR_NPUSER_METHOD_NOT_ALLOWED: 'Este método no está permitido aquí.',
    ERR_NPUSER_PAYLOAD_TOO_LARGE: 'La solicitud es demasiado grande.',
    ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE: 'El tipo de contenido de la solicitud no es compatible.',
    ERR_NPUSER_UNAVAILABLE: 'El servicio no está disponible. Inténtelo más tarde.',
    ERR_NPUSER_INTERNAL: 'Algo salió mal. Inténtelo más tarde.',
  },
  pt: {
    ERR_NPUSER_INVALID_EMAIL: 'Este endereço de e-mail não é válido.',
    ERR_NPUSER_INVALID_CODE: 'Este código não é válido. Pode estar errado, expirado ou já ter sido usado.',
    ERR_NPUSER_TOO_MANY_ATTEMPTS: 'Demasiados códigos errados. Peça um novo código.',
    ERR_NPUSER_ADDRESS_LOCKED: 'Demasiadas tentativas de início de sessão falhadas para este endereço. Tente mais tarde.',
    ERR_NPUSER_RATE_LIMITED: 'Demasiados pedidos. Tente mais tarde.',
    ERR_NPUSER_INVALID_TOKEN: 'Não tem sessão iniciada.',
    ERR_NPUSER_TOKEN_EXPIRED: 'A sua sessão expirou. Inicie sessão novamente.',
    ERR_NPUSER_MAILER_FAILED: 'Não foi possível enviar o código. Tente mais tarde.',
    ERR_NPUSER_STORE_FAILED: 'O início de sessão não está disponível agora. Tente mais tarde.',
    ERR_NPUSER_BAD_REQUEST: 'O pedido está mal formado.',
    ERR_NPUSER_UNAUTHENTICATED: 'A chave de API está em falta, é desconhecida ou expirou.',
    ERR_NPUSER_FORBIDDEN: 'Este pedido não é permitido a partir daqui.',
    ERR_NPUSER_NOT_FOUND: 'Não há nada neste endereço.',
    ERR_NPUSER_METHOD_NOT_ALLOWED: 'Este método não é permitido aqui.',
    ERR_NPUSER_PAYLOAD_TOO_LARGE: 'O pedido é demasiado grande.',
    ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE: 'O tipo de conteúdo do pedido não é suportado.',
    ERR_NPUSER_UNAVAILABLE: 'O serviço não está disponível. Tente mais tarde.',
    ERR_NPUSER_INTERNAL: 'Algo correu mal. Tente mais tarde.',
  },
};

/**
 * The fixed title of `code` in `locale`.
 * @internal
 */
export function problemTitle(code: NpUserErrorCode, locale: ProblemLocale = 'en'): string {
  return TITLES[locale][code];
}

/**
 * The best of the five title languages for an `Accept-Language` header (RFC
 * 9110 §12.5.4: quality values, then order; `pt-BR` counts as `pt`), or `en`.
 * @internal
 */
export function negotiateLocale(acceptLanguage: string | null | undefined): ProblemLocale {
  if (typeof acceptLanguage !== 'string' || acceptLanguage.length > 1024) return 'en';
  let best: { locale: ProblemLocale; q: number } | undefined;
  for (const part of acceptLanguage.split(',')) {
    const [tag = '', ...params] = part.trim().split(';');
    const language = tag.trim().toLowerCase().split('-')[0] ?? '';
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q) || q <= 0 || q > 1) continue;
    const locale = PROBLEM_LOCALES.find((l) => l === language) ?? (language === '*' ? 'en' : undefined);
    if (locale !== undefined && (best === undefined || q > best.q)) best = { locale, q };
  }
  return best?.locale ?? 'en';
}

/**
 * Where each code is explained: the `type` of every problem npuser answers.
 * @internal
 */
export function problemType(code: NpUserErrorCode): string {
  return `https://github.com/npuserauth/npuser/blob/main/docs/errors.md#${code.toLowerCase()}`;
}

/** What {@link problemResponse} needs besides the code. @internal */
export interface ProblemOptions {
  /** Echoed in the body and in `X-Request-Id`. */
  readonly requestId: string;
  readonly locale?: ProblemLocale | undefined;
  readonly retryAfterSeconds?: number | undefined;
  /** Further headers: `Allow` for a 405, `WWW-Authenticate` for a 401, CORS, … */
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** The request answered, when there is one: the Node.js adapter writes its own requests' answers without a body stream. */
  readonly request?: Request | undefined;
}

/**
 * The body of a problem answer (RFC 9457), as npuser sends it.
 *
 * @example
 * ```ts
 * import type { ProblemDetails } from 'npuser/http';
 * const response = await fetch('https://auth.example.com/v1/request-code', { method: 'POST' });
 * const problem = (await response.json()) as ProblemDetails;
 * const waitSeconds = problem.code === 'ERR_NPUSER_RATE_LIMITED' ? problem.retryAfterSeconds : undefined;
 * ```
 */
export interface ProblemDetails {
  /** A link to the code's explanation. */
  readonly type: string;
  /** A fixed, human sentence for the code, in the negotiated language. */
  readonly title: string;
  /** The HTTP status, as on the response. */
  readonly status: number;
  /** The stable `ERR_NPUSER_*` code. */
  readonly code: NpUserErrorCode;
  /** Seconds until a retry can succeed, when known. */
  readonly retryAfterSeconds?: number;
  /** The request's id, as in the `X-Request-Id` header. */
  readonly requestId: string;
}

/**
 * An `application/problem+json` answer for `code`: status from
 * {@link PROBLEM_STATUS}, fixed title, `Retry-After` when the wait is known,
 * `Cache-Control: no-store` and `X-Request-Id` always.
 * @internal
 */
export function problemResponse(code: NpUserErrorCode, options: ProblemOptions): Response {
  const status = PROBLEM_STATUS[code];
  const locale = options.locale ?? 'en';
  const retryAfterSeconds = options.retryAfterSeconds;
  const body: ProblemDetails = {
    type: problemType(code),
    title: problemTitle(code, locale),
    status,
    code,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    requestId: options.requestId,
  };
  const headers: Record<string, string> = {
    'content-type': 'application/problem+json; charset=utf-8',
    'content-language': locale,
    'cache-control': 'no-store',
    'x-request-id': options.requestId,
    ...(retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) }),
    ...(code === 'ERR_NPUSER_UNAUTHENTICATED' ? { 'www-authenticate': 'Bearer realm="npuser"' } : {}),
    ...options.headers,
  };
  return textResponse(options.request, JSON.stringify(body), { status, headers });
}

/**
 * The code and wait to answer for whatever a handler caught: an
 * `NpUserError` as it is, anything else as `ERR_NPUSER_INTERNAL`, whose
 * answer never echoes the error.
 * @internal
 */
export function problemOf(err: unknown): { code: NpUserErrorCode; retryAfterSeconds?: number } {
  if (!isNpUserError(err)) return { code: 'ERR_NPUSER_INTERNAL' };
  return err.retryAfterSeconds === undefined ? { code: err.code } : { code: err.code, retryAfterSeconds: err.retryAfterSeconds };
}

/**
 * A fresh request id: a UUID from the platform's Web Crypto, so the HTTP
 * layer runs unchanged on Node.js, Bun and Deno.
 * @internal
 */
export function newRequestId(): string {
  return crypto.randomUUID();
}
