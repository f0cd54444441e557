/**
 * Passwordless sign-in by emailed one-time code.
 *
 * @module npuser
 */
export { NpUser } from './np-user.js';
export { NpUserError, isNpUserError, NP_USER_ERROR_CODES } from './errors.js';
export type { NpUserErrorCode, NpUserErrorOptions } from './errors.js';
export { DEFAULTS, OPTION_BOUNDS } from './options.js';
export type { NpUserOptions, NumericOption, OptionBound } from './options.js';
export type {
  AsymmetricAlgorithm,
  JsonWebKeyInput,
  JsonWebKeySet,
  KeyObjectInput,
  KeyWithId,
  PublicJsonWebKey,
  SigningKeyInput,
} from './lib/signing-keys.js';
export { memoryCodeStore } from './stores/memory.js';
export type { MemoryCodeStore, MemoryCodeStoreOptions, MemoryStoreEntry } from './stores/memory.js';
export { consoleMailer } from './mailers/console.js';
export type { ConsoleMailerOptions } from './mailers/console.js';
export { renderCodeMessage, groupCodeDigits } from './mailers/template.js';
export type { RenderedMessage, CodeMessageRenderer, RenderCodeMessageOptions, MailerMessageOptions } from './mailers/template.js';
export { CODE_MESSAGE_STRINGS } from './mailers/messages.js';
export type { CodeMessageStrings } from './mailers/messages.js';
export type {
  CodeMessage,
  CodeStore,
  Mailer,
  MailerSendOptions,
  NpUserEvent,
  NpUserEventReason,
  NpUserEventType,
  RequestCodeResult,
  RequestContext,
  StoreCounter,
  StoreEntry,
  StoreStep,
  StoreStepResult,
  TokenClaims,
  TokenClaimsContext,
  ValidateTokenOptions,
  ValidateTokenResult,
  VerifyCodeResult,
} from './types.js';
