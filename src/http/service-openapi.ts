import type { NpUserErrorCode } from '../errors.js';
import type { FieldRule } from './body.js';
import { PROBLEM_STATUS, problemTitle, problemType } from './problem.js';
import { type JsonSchema, type ServiceRoute, SERVICE_ROUTES, routeErrors } from './service-routes.js';

/** What the OpenAPI description says about the service besides the routes. @internal */
export interface OpenApiInfo {
  readonly version: string;
  readonly quota: { readonly requests: number; readonly windowSeconds: number };
}

function fieldSchema(rule: FieldRule, description: string | undefined): JsonSchema {
  const base = rule.type === 'string' ? { type: 'string', maxLength: rule.maxLength } : { type: 'integer', minimum: 0, maximum: rule.max };
  return description === undefined ? base : { ...base, description };
}

function requestBody(route: ServiceRoute): JsonSchema | undefined {
  if (route.body === undefined) return undefined;
  const { kind, fields, descriptions } = route.body;
  const properties = Object.fromEntries(Object.entries(fields).map(([name, rule]) => [name, fieldSchema(rule, descriptions[name])]));
  const required = Object.entries(fields)
    .filter(([, rule]) => rule.optional !== true)
    .map(([name]) => name);
  const schema = { type: 'object', required, properties, additionalProperties: false };
  const mediaType = kind === 'json' ? 'application/json' : 'application/x-www-form-urlencoded';
  return { required: true, content: { [mediaType]: { schema } } };
}

const HEADERS = {
  'X-Request-Id': { description: 'The id of this request, as in the access log.', schema: { type: 'string' } },
  'RateLimit-Policy': {
    description: 'The API key\'s quota (draft-ietf-httpapi-ratelimit-headers): `"key";q=<requests>;w=<seconds>`.',
    schema: { type: 'string' },
  },
  RateLimit: {
    description: 'What is left of the quota: `"key";r=<remaining>;t=<seconds until the window resets>`.',
    schema: { type: 'string' },
  },
  'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'integer' } },
  'WWW-Authenticate': { description: '`Bearer realm="npuser"`.', schema: { type: 'string' } },
  'Idempotent-Replayed': {
    description: '`true` when the answer replays the first one for this `Idempotency-Key`.',
    schema: { type: 'string' },
  },
} as const;

function headerRefs(names: readonly (keyof typeof HEADERS)[]): JsonSchema {
  return Object.fromEntries(names.map((name) => [name, { $ref: `#/components/headers/${name}` }]));
}

/** The responses of one route: its success and every problem it can answer, by status. */
function responses(route: ServiceRoute): JsonSchema {
  const quota = route.auth ? (['RateLimit-Policy', 'RateLimit'] as const) : [];
  const success: Record<string, unknown> = {
    description: route.success.description,
    headers: headerRefs(['X-Request-Id', ...quota, ...(route.idempotent === true ? (['Idempotent-Replayed'] as const) : [])]),
  };
  if (route.success.schema !== undefined) {
    success.content = { [route.success.contentType ?? 'application/json']: { schema: route.success.schema } };
  }
  const byStatus = new Map<number, NpUserErrorCode[]>();
  for (const code of routeErrors(route)) {
    const status = PROBLEM_STATUS[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const problems = Object.fromEntries(
    [...byStatus.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, codes]) => {
        const names: (keyof typeof HEADERS)[] = ['X-Request-Id'];
        if (status === 429 || status === 503) names.push('Retry-After');
        if (status === 401) names.push('WWW-Authenticate');
        if (route.auth && status !== 401 && status !== 403) names.push('RateLimit-Policy', 'RateLimit');
        return [
          String(status),
          {
            description: codes.map((code) => `\`${code}\`: ${problemTitle(code)}`).join(' '),
            headers: headerRefs(names),
            content: {
              'application/problem+json': {
                schema: { allOf: [{ $ref: '#/components/schemas/Problem' }, { properties: { code: { enum: codes } } }] },
              },
            },
          },
        ];
      }),
  );
  return { [String(route.success.status)]: success, ...problems };
}

function operation(route: ServiceRoute): JsonSchema {
  const parameters: JsonSchema[] = [];
  if (route.path.includes('{appId}')) {
    parameters.push({ name: 'appId', in: 'path', required: true, schema: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' } });
  }
  if (route.idempotent === true) {
    parameters.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: false,
      description:
        "A unique key per logical request (1–255 visible ASCII characters). A retry with the same key and body within the code's lifetime replays the first answer.",
      schema: { type: 'string', minLength: 1, maxLength: 255 },
    });
  }
  parameters.push({
    name: 'Accept-Language',
    in: 'header',
    required: false,
    description: 'The language of problem titles: en, fr, de, es or pt.',
    schema: { type: 'string' },
  });
  const body = requestBody(route);
  return {
    operationId: route.operation,
    summary: route.summary,
    description: route.description,
    tags: [route.auth ? 'apps' : 'public'],
    ...(route.auth ? { security: [{ apiKey: [] }] } : { security: [] }),
    parameters,
    ...(body === undefined ? {} : { requestBody: body }),
    responses: responses(route),
  };
}

/**
 * The OpenAPI 3.1 description of the service, generated from
 * {@link SERVICE_ROUTES}: the routes, their bodies, their answers and every
 * problem code each can give.
 * @internal
 */
export function serviceOpenApi(info: OpenApiInfo): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const route of SERVICE_ROUTES) {
    paths[route.path] = { ...paths[route.path], [route.method.toLowerCase()]: operation(route) };
  }
  const codes = Object.keys(PROBLEM_STATUS) as NpUserErrorCode[];
  return {
    openapi: '3.1.0',
    info: {
      title: 'npuser service',
      version: info.version,
      description:
        "Passwordless sign-in by emailed one-time code, for many apps. An app's server calls it with the app's API key; browsers are refused. " +
        "Errors are RFC 9457 problem details with a stable `code`. 401 and 403 are only ever about the caller (its key, its origin), never about the user's code. " +
        `Each API key may make ${info.quota.requests} requests per ${info.quota.windowSeconds} s, announced in \`RateLimit-Policy\` and \`RateLimit\`. ` +
        'Every path answers 405 with `Allow` to another method, and any other path answers 404.',
    },
    tags: [
      { name: 'apps', description: "Called by an app's server with its API key." },
      { name: 'public', description: 'No API key.' },
    ],
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: "The app's API key: `npu_sk_…` (live) or `npu_test_…` (test)." },
      },
      headers: Object.fromEntries(Object.entries(HEADERS).map(([name, header]) => [name, header])),
      schemas: {
        Problem: {
          type: 'object',
          description: 'RFC 9457 problem details.',
          required: ['type', 'title', 'status', 'code', 'requestId'],
          properties: {
            type: { type: 'string', format: 'uri', description: "A link to the code's explanation." },
            title: { type: 'string', description: 'A fixed sentence for the code, in the negotiated language.' },
            status: { type: 'integer' },
            code: { enum: codes, description: 'The stable `ERR_NPUSER_*` code.' },
            retryAfterSeconds: { type: 'integer', minimum: 0 },
            requestId: { type: 'string' },
          },
          examples: [
            {
              type: problemType('ERR_NPUSER_INVALID_CODE'),
              title: problemTitle('ERR_NPUSER_INVALID_CODE'),
              status: 422,
              code: 'ERR_NPUSER_INVALID_CODE',
              requestId: '0b6f7a52-3d0e-4c4e-9a51-1f8e0f1f4c1b',
            },
          ],
        },
      },
    },
  };
}
