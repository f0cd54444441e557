/**
 * Answers whose body is a string kept as it is until someone reads it.
 *
 * A web `Response` made from a string builds a `ReadableStream` for it at
 * once, and on Node.js 20 that alone costs more than checking a token. The
 * Node.js adapter writes a string straight to the socket, so for a request
 * it made (see {@link NODE_REQUEST}) the handlers answer with a
 * {@link StringResponse}: a real `Response` (status, headers, `instanceof`)
 * whose body stream is made only if something other than the adapter reads
 * it. Other hosts (Bun, Deno, Workers) read a response's body natively, past
 * any JavaScript getter, so they always get a plain `Response`.
 * @internal
 * @module
 */

/**
 * Marks a `Request` made by the Node.js adapter, which writes a
 * {@link StringResponse}'s text itself.
 * @internal
 */
export const NODE_REQUEST: unique symbol = Symbol('npuser node request');

/**
 * A `Response` with a string body held as it is: status, headers and every
 * body method behave as a plain `Response`'s; the stream is made on first
 * use of the body, and never when the Node.js adapter writes the text.
 * @internal
 */
export class StringResponse extends Response {
  #text: string | undefined;
  /** Written by the adapter: the body counts as read. */
  #written = false;
  /** Holds the body once it is read as a web stream. */
  #holder: Response | undefined;

  constructor(text: string, init: ResponseInit) {
    // No body for the platform's Response: no stream built.
    super(null, init);
    // What a plain Response made from a string says of itself.
    if (!this.headers.has('content-type')) this.headers.set('content-type', 'text/plain;charset=UTF-8');
    this.#text = text;
  }

  /**
   * The text, for a writer that sends it itself; afterwards the body counts
   * as read. `undefined` for any other response, or when the body was read
   * (or its stream made) already.
   */
  static take(response: Response): string | undefined {
    if (!(response instanceof StringResponse) || response.#holder !== undefined || response.#written) return undefined;
    response.#written = true;
    const text = response.#text;
    response.#text = undefined;
    return text;
  }

  #body(): Response {
    if (this.#holder === undefined) {
      // The holder parses as this response would: by its Content-Type.
      const type = this.headers.get('content-type');
      this.#holder = new Response(this.#text ?? '', type === null ? {} : { headers: { 'content-type': type } });
      this.#text = undefined;
      // A body the adapter wrote is gone, as a plain Response's would be: a used stream.
      if (this.#written) this.#holder.arrayBuffer().catch(() => undefined);
    }
    return this.#holder;
  }

  override get body(): ReadableStream<Uint8Array<ArrayBuffer>> | null {
    return this.#body().body;
  }

  override get bodyUsed(): boolean {
    return this.#written || (this.#holder?.bodyUsed ?? false);
  }

  override text(): Promise<string> {
    return this.#body().text();
  }

  override json(): Promise<unknown> {
    return this.#body().json();
  }

  override arrayBuffer(): Promise<ArrayBuffer> {
    return this.#body().arrayBuffer();
  }

  override blob(): Promise<Blob> {
    return this.#body().blob();
  }

  override formData(): Promise<FormData> {
    return this.#body().formData();
  }

  override bytes(): Promise<Uint8Array<ArrayBuffer>> {
    return this.#body().bytes();
  }

  override clone(): Response {
    const init = { status: this.status, statusText: this.statusText, headers: this.headers };
    if (this.#holder === undefined && !this.#written) return new StringResponse(this.#text ?? '', init);
    // The plain Response's checks (a used or locked body cannot be cloned), and its tee.
    return new Response(this.#body().clone().body, init);
  }
}

/**
 * The answer to `request` with a string body (or none): a
 * {@link StringResponse} when the Node.js adapter made the request and will
 * write it, a plain `Response` otherwise.
 * @internal
 */
export function textResponse(request: Request | undefined, text: string | null, init: ResponseInit): Response {
  if (text === null || request === undefined || !(NODE_REQUEST in request)) return new Response(text, init);
  return new StringResponse(text, init);
}
