import type { NpUserErrorCode } from '../errors.js';
import type { BodyKind, FieldRules } from './body.js';

/**
 * The service's route table: the one description the handler dispatches on
 * and `/openapi.json` is generated from, so the two cannot drift.
 * @internal
 */

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it). @internal */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** The operations the service serves. @internal */
export type ServiceOperation =
  'requestCode' | 'verifyCode' | 'validateToken' | 'revokeToken' | 'introspect' | 'jwks' | 'healthz' | 'readyz' | 'openapi';

/** One route of the table. @internal */
export interface ServiceRoute {
  readonly operation: ServiceOperation;
  readonly method: 'GET' | 'POST';
  /** The path template; `{appId}` is the one parameter. */
  readonly path: string;
  readonly summary: string;
  readonly description: string;
  /** Called with an app's API key (`Authorization: Bearer npu_…`); browsers are refused. */
  readonly auth: boolean;
  readonly body?: { readonly kind: BodyKind; readonly fields: FieldRules; readonly descriptions: Readonly<Record<string, string>> };
  /** Takes an `Idempotency-Key` header. */
  readonly idempotent?: boolean;
  readonly success: {
    readonly status: 200 | 204;
    readonly description: string;
    readonly schema?: JsonSchema;
    readonly contentType?: string;
  };
  /** Every error code this route can answer besides those of {@link AUTH_ERRORS}. */
  readonly errors: readonly NpUserErrorCode[];
}

/** Codes every authenticated route can answer, from the caller check and the body reader. @internal */
const AUTH_ERRORS: readonly NpUserErrorCode[] = [
  'ERR_NPUSER_BAD_REQUEST',
  'ERR_NPUSER_UNAUTHENTICATED',
  'ERR_NPUSER_FORBIDDEN',
  'ERR_NPUSER_PAYLOAD_TOO_LARGE',
  'ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE',
  'ERR_NPUSER_RATE_LIMITED',
  'ERR_NPUSER_STORE_FAILED',
  'ERR_NPUSER_UNAVAILABLE',
  'ERR_NPUSER_INTERNAL',
];

const EMAIL = { type: 'string', maxLength: 512 } as const;
const CLIENT_KEY = { type: 'string', optional: true, maxLength: 512 } as const;
const TOKEN = { type: 'string', maxLength: 4096 } as const;
const DATE_TIME = { type: 'string', format: 'date-time' } as const;

/** The body fields of each route that has a body. @internal */
export const BODY_FIELDS = {
  requestCode: { email: EMAIL, clientKey: CLIENT_KEY, locale: { type: 'string', optional: true, maxLength: 64 } },
  verifyCode: { email: EMAIL, code: { type: 'string', maxLength: 64 }, clientKey: CLIENT_KEY },
  validateToken: { token: TOKEN, maxTokenAgeSeconds: { type: 'integer', optional: true, max: 400 * 24 * 3600 } },
  revokeToken: { token: TOKEN },
  introspect: { token: TOKEN, token_type_hint: { type: 'string', optional: true, maxLength: 64 } },
} as const satisfies Partial<Record<ServiceOperation, FieldRules>>;

const CLAIMS: JsonSchema = {
  type: 'object',
  description: 'Every claim of the verified token.',
  required: ['iss', 'aud', 'sub', 'iat', 'exp', 'jti', 'auth_time'],
  properties: {
    iss: { type: 'string' },
    aud: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
    sub: { type: 'string' },
    iat: { type: 'integer' },
    exp: { type: 'integer' },
    jti: { type: 'string' },
    auth_time: { type: 'integer' },
  },
  additionalProperties: true,
};

/** The route table. @internal */
export const SERVICE_ROUTES: readonly ServiceRoute[] = [
  {
    operation: 'requestCode',
    method: 'POST',
    path: '/v1/request-code',
    summary: 'Mail a sign-in code',
    description:
      "Mails a new code to the address, replacing any code sent before. `clientKey` is the end user's IP address or device id, for per-client limits. " +
      "With an `Idempotency-Key`, a retry within the code's lifetime replays the first answer instead of mailing a second code. Test apps (`npu_test_` keys) get the code in the answer and no mail is sent.",
    auth: true,
    idempotent: true,
    body: {
      kind: 'json',
      fields: BODY_FIELDS.requestCode,
      descriptions: {
        email: 'The address as the user typed it.',
        clientKey: "The end user's IP address or device id (never the app server's own).",
        locale: "The reader's language (BCP 47) for the message.",
      },
    },
    success: {
      status: 200,
      description: 'The code was sent.',
      schema: {
        type: 'object',
        required: ['email', 'expiresAt'],
        properties: {
          email: { type: 'string', description: 'The canonical address the code was sent to.' },
          expiresAt: { ...DATE_TIME, description: 'When the code stops working.' },
          code: { type: 'string', description: 'Test apps only: the code that would have been mailed.' },
        },
        additionalProperties: false,
      },
    },
    errors: ['ERR_NPUSER_INVALID_EMAIL', 'ERR_NPUSER_ADDRESS_LOCKED', 'ERR_NPUSER_MAILER_FAILED'],
  },
  {
    operation: 'verifyCode',
    method: 'POST',
    path: '/v1/verify-code',
    summary: 'Check a code and get a token',
    description:
      "Checks the code once. A right code is consumed and answered with a signed token whose `sub` is this app's pseudonym for the address.",
    auth: true,
    body: {
      kind: 'json',
      fields: BODY_FIELDS.verifyCode,
      descriptions: {
        email: 'The address the code was requested for.',
        code: 'The code as typed: spaces and hyphens are ignored.',
        clientKey: "The end user's IP address or device id.",
      },
    },
    success: {
      status: 200,
      description: 'The code was right.',
      schema: {
        type: 'object',
        required: ['token', 'subject', 'email', 'expiresAt'],
        properties: {
          token: { type: 'string', description: 'The signed JWT (`typ: npuser+jwt`).' },
          subject: { type: 'string', description: "The token's `sub`: this app's pseudonym for the address." },
          email: { type: 'string', description: 'The canonical address.' },
          expiresAt: { ...DATE_TIME, description: 'When the token expires.' },
        },
        additionalProperties: false,
      },
    },
    errors: ['ERR_NPUSER_INVALID_EMAIL', 'ERR_NPUSER_INVALID_CODE', 'ERR_NPUSER_TOO_MANY_ATTEMPTS', 'ERR_NPUSER_ADDRESS_LOCKED'],
  },
  {
    operation: 'validateToken',
    method: 'POST',
    path: '/v1/validate-token',
    summary: 'Is this the user who was authenticated?',
    description:
      "Checks a token of the calling app: signature, issuer, audience, lifetime and revocation. A token that is not valid is an answer (`active: false` with the reason), not a failed request. Another app's token is `invalid`.",
    auth: true,
    body: {
      kind: 'json',
      fields: BODY_FIELDS.validateToken,
      descriptions: {
        token: 'The compact JWT.',
        maxTokenAgeSeconds: 'Treat a token issued longer ago than this as expired.',
      },
    },
    success: {
      status: 200,
      description: 'Whether the token is valid, and what it says.',
      schema: {
        oneOf: [
          {
            type: 'object',
            required: ['active', 'subject', 'issuedAt', 'expiresAt', 'authenticatedAt', 'tokenId', 'claims'],
            properties: {
              active: { const: true },
              subject: { type: 'string' },
              issuedAt: DATE_TIME,
              expiresAt: DATE_TIME,
              authenticatedAt: { ...DATE_TIME, description: 'When the code was verified.' },
              tokenId: { type: 'string' },
              claims: CLAIMS,
            },
            additionalProperties: false,
          },
          {
            type: 'object',
            required: ['active', 'reason'],
            properties: { active: { const: false }, reason: { enum: ['invalid', 'expired', 'revoked'] } },
            additionalProperties: false,
          },
        ],
      },
    },
    errors: [],
  },
  {
    operation: 'revokeToken',
    method: 'POST',
    path: '/v1/revoke-token',
    summary: 'Revoke a token (sign-out)',
    description:
      "Revokes a token of the calling app before it expires, on every instance sharing the store. Idempotent; a token that is not the app's gets the same answer.",
    auth: true,
    body: { kind: 'json', fields: BODY_FIELDS.revokeToken, descriptions: { token: 'The compact JWT.' } },
    success: { status: 204, description: 'The token is revoked (or was never valid).' },
    errors: [],
  },
  {
    operation: 'introspect',
    method: 'POST',
    path: '/v1/introspect',
    summary: 'Token introspection (RFC 7662)',
    description: 'The same check as validate-token, in the shape of RFC 7662, for gateways and OAuth libraries.',
    auth: true,
    body: {
      kind: 'form',
      fields: BODY_FIELDS.introspect,
      descriptions: { token: 'The compact JWT.', token_type_hint: 'Ignored: npuser has one kind of token.' },
    },
    success: {
      status: 200,
      description: 'The RFC 7662 introspection answer.',
      schema: {
        type: 'object',
        required: ['active'],
        properties: {
          active: { type: 'boolean' },
          sub: { type: 'string' },
          aud: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
          iss: { type: 'string' },
          exp: { type: 'integer' },
          iat: { type: 'integer' },
          jti: { type: 'string' },
          auth_time: { type: 'integer' },
          client_id: { type: 'string', description: 'The app id.' },
          token_type: { const: 'Bearer' },
        },
        additionalProperties: false,
      },
    },
    errors: [],
  },
  {
    operation: 'jwks',
    method: 'GET',
    path: '/v1/apps/{appId}/jwks.json',
    summary: "An app's public keys",
    description:
      "The JSON Web Key Set that verifies the app's tokens offline. Public: no API key. Cacheable (`Cache-Control: public, max-age=300`, `ETag`). 404 for an unknown app and for an app that signs with HS256.",
    auth: false,
    success: {
      status: 200,
      description: 'The key set, the signing key first.',
      contentType: 'application/jwk-set+json',
      schema: {
        type: 'object',
        required: ['keys'],
        properties: {
          keys: {
            type: 'array',
            items: {
              type: 'object',
              required: ['kty', 'crv', 'x', 'kid', 'alg', 'use'],
              properties: {
                kty: { type: 'string' },
                crv: { type: 'string' },
                x: { type: 'string' },
                y: { type: 'string' },
                kid: { type: 'string' },
                alg: { type: 'string' },
                use: { const: 'sig' },
              },
            },
          },
        },
      },
    },
    errors: ['ERR_NPUSER_NOT_FOUND', 'ERR_NPUSER_UNAVAILABLE'],
  },
  {
    operation: 'healthz',
    method: 'GET',
    path: '/healthz',
    summary: 'Liveness',
    description: 'The process answers.',
    auth: false,
    success: {
      status: 200,
      description: 'Alive.',
      schema: { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } },
    },
    errors: [],
  },
  {
    operation: 'readyz',
    method: 'GET',
    path: '/readyz',
    summary: 'Readiness',
    description: 'Ready for traffic: the store answers and the server is not shutting down.',
    auth: false,
    success: {
      status: 200,
      description: 'Ready.',
      schema: { type: 'object', required: ['status'], properties: { status: { const: 'ready' } } },
    },
    errors: ['ERR_NPUSER_UNAVAILABLE'],
  },
  {
    operation: 'openapi',
    method: 'GET',
    path: '/openapi.json',
    summary: 'This description',
    description: 'The OpenAPI 3.1 description of the service, generated from the route table the handler serves.',
    auth: false,
    success: { status: 200, description: 'OpenAPI 3.1.', schema: { type: 'object' } },
    errors: ['ERR_NPUSER_UNAVAILABLE'],
  },
];

/** Every code a route can answer, in the order of the table's groups. @internal */
export function routeErrors(route: ServiceRoute): NpUserErrorCode[] {
  return [...new Set([...(route.auth ? AUTH_ERRORS : []), ...route.errors])];
}

/** A route's path template as a regular expression; `{appId}` captures an app id. @internal */
export function pathPattern(path: string): RegExp {
  const source = path
    .split(/(\{appId\})/)
    .map((part) => (part === '{appId}' ? '([a-z0-9][a-z0-9-]{0,62})' : part.replace(/[.*+?^$()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${source}$`);
}
