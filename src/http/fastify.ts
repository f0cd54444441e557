import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { NpUserErrorCode } from '../errors.js';
import { MAX_BODY_BYTES } from './body.js';
import { nodeRequest } from './node.js';
import { negotiateLocale, newRequestId, problemResponse } from './problem.js';
import type { SignInHandler } from './sign-in.js';

/**
 * Options of {@link fastifySignIn}.
 *
 * @example
 * ```ts
 * import { createSignInHandler, type FastifySignInOptions } from 'npuser/http';
 * const options: FastifySignInOptions = { signIn: createSignInHandler(np) };
 * ```
 */
export interface FastifySignInOptions {
  /** What `createSignInHandler` returned. */
  readonly signIn: Pick<SignInHandler, 'basePath' | 'fetch'>;
}

// Fastify's own refusals of a body, in the handler's words.
const FASTIFY_BODY_ERRORS: Readonly<Record<number, NpUserErrorCode>> = {
  400: 'ERR_NPUSER_BAD_REQUEST',
  413: 'ERR_NPUSER_PAYLOAD_TOO_LARGE',
  415: 'ERR_NPUSER_UNSUPPORTED_MEDIA_TYPE',
};

/**
 * The sign-in routes as a Fastify 5 plugin: register it (without a
 * `prefix`: the routes live under the handler's `basePath`) and every
 * request under `{basePath}/` goes to the handler.
 *
 * Fastify's body parsing is respected: a JSON body Fastify has parsed (or
 * a form `@fastify/formbody` has) is passed on as it arrived. In the
 * plugin's own scope, and nowhere else in your app, forms are read as text
 * when no parser for them is registered, any other type reaches the handler
 * (which refuses it with a 415 problem), bodies stop at 8 KiB, and
 * Fastify's refusals of a body (400, 413, 415) are answered as problems.
 * The client's address is the connection's (set the handler's `trustProxy`
 * behind a proxy, not only Fastify's).
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { createSignInHandler, fastifySignIn } from 'npuser/http';
 * const signIn = createSignInHandler(np, { basePath: '/auth' });
 * const app = Fastify();
 * await app.register(fastifySignIn, { signIn });
 * app.get('/account', async (request, reply) => {
 *   const session = await signIn.getSession(request);
 *   if (!session) return reply.redirect('/');
 *   if (session.setCookie) reply.header('set-cookie', session.setCookie);
 *   return `Hello ${session.subject}`;
 * });
 * ```
 */
export const fastifySignIn: FastifyPluginAsync<FastifySignInOptions> = (fastify, options) => {
  try {
    register(fastify, options);
  } catch (err) {
    // Fastify reports a plugin's failure through its promise; register() throws TypeErrors only.
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  return Promise.resolve();
};

function register(fastify: Parameters<FastifyPluginAsync<FastifySignInOptions>>[0], options: FastifySignInOptions): void {
  const signIn = (options as Partial<FastifySignInOptions> | undefined)?.signIn;
  if (typeof signIn?.fetch !== 'function' || typeof signIn.basePath !== 'string') {
    throw new TypeError('npuser: fastifySignIn options.signIn must be what createSignInHandler returned');
  }
  if (fastify.prefix !== '') {
    throw new TypeError(
      `npuser: fastifySignIn must be registered without a prefix: its routes live under the handler's basePath (${signIn.basePath})`,
    );
  }
  if (!fastify.hasContentTypeParser('application/x-www-form-urlencoded')) {
    fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
      done(null, body);
    });
  }
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
    done(null, body);
  });
  fastify.setErrorHandler(async (error, request, reply) => {
    const status = (error as { statusCode?: unknown } | null)?.statusCode;
    const code = typeof status === 'number' ? FASTIFY_BODY_ERRORS[status] : undefined;
    // Anything else goes on to the app's own error handler.
    if (code === undefined) throw error;
    const locale = negotiateLocale(request.headers['accept-language']);
    await send(reply, problemResponse(code, { requestId: newRequestId(), locale }));
  });
  fastify.route({
    method: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
    url: `${signIn.basePath}/*`,
    bodyLimit: MAX_BODY_BYTES,
    handler: async (request, reply) => {
      const remoteAddress = request.raw.socket.remoteAddress;
      const response = await signIn.fetch(nodeRequest(request.raw, { url: request.url, body: request.body }), { remoteAddress });
      await send(reply, response);
    },
  });
}

async function send(reply: FastifyReply, response: Response): Promise<void> {
  const body = new Uint8Array(await response.arrayBuffer());
  reply.code(response.status);
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie' && name !== 'content-length') reply.header(name, value);
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) reply.header('set-cookie', cookies);
  // No body (a 303): nothing to send, and no content type made up for it.
  await (body.byteLength === 0 ? reply.send() : reply.send(Buffer.from(body)));
}
