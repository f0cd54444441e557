/**
 * npuser over HTTP: web-standard `(Request) => Promise<Response>` handlers
 * that Express, Fastify, Hono, node:http, Bun and Deno mount as they are.
 *
 * - The sign-in routes (`createSignInHandler`): what an app mounts so a browser
 *   can sign in, with the token in an HttpOnly session cookie.
 * - The service (`createService`): many apps, an API key each, called by the
 *   apps' servers.
 *
 * Both answer errors as RFC 9457 problem details with the stable `ERR_NPUSER_*` code.
 *
 * @module npuser/http
 */

// Shared by both surfaces.
export type { ProblemDetails } from './problem.js';

// The sign-in routes.
export { createSignInHandler } from './sign-in.js';
export type {
  HeaderSource,
  PageStateSource,
  SessionSource,
  SignInBackend,
  SignInHandler,
  SignInHandlerOptions,
  SignInPageCommon,
  SignInPageError,
  SignInPageState,
  SignInSession,
} from './sign-in.js';
export type { SignInConnection } from './client-address.js';
export { toNodeHandler } from './node.js';
export type { NodeFetchHandler, NodeHandler } from './node.js';
export { fastifySignIn } from './fastify.js';
export type { FastifySignInOptions } from './fastify.js';

// The service.
export { createService } from './service.js';
export type { Service } from './service.js';
export type {
  ServiceAccessLogEntry,
  ServiceApiKey,
  ServiceAppConfig,
  ServiceAppInfo,
  ServiceConfig,
  ServiceQuota,
} from './service-config.js';
