/**
 * The npuser service over HTTP, for an app's server: `NpUserClient` has the
 * methods, shapes and errors of `NpUser` (both implement `NpUserApi`), and
 * needs nothing but `fetch`, so it runs on Node.js, Bun, Deno and edge runtimes.
 *
 * @module npuser/client
 */
export { NpUserClient } from './np-user-client.js';
export type { ClientRequestCodeResult, NpUserClientOptions } from './np-user-client.js';
