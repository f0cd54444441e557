// The answers the handlers give the Node.js adapter's requests: a Response in every way a program can see,
// whose body stream is made only when read; every other request gets a plain Response.
import { describe, expect, it } from 'vitest';
import { NODE_REQUEST, StringResponse, textResponse } from '../../src/http/response.js';

const init = { status: 201, statusText: 'Made', headers: { 'content-type': 'application/json', 'x-one': '1' } };

describe('StringResponse', () => {
  it('is a Response: status, headers, and the body by every method', async () => {
    const response = new StringResponse('{"a":1}', init);
    expect(response).toBeInstanceOf(Response);
    expect([response.status, response.statusText, response.ok, response.type]).toEqual([201, 'Made', true, 'default']);
    expect(response.headers.get('x-one')).toBe('1');
    expect(response.bodyUsed).toBe(false);
    expect(await response.json()).toEqual({ a: 1 });
    expect(response.bodyUsed).toBe(true);
    await expect(response.text()).rejects.toThrow(TypeError);
    expect(await new StringResponse('abc', init).text()).toBe('abc');
    expect(new Uint8Array(await new StringResponse('abc', init).arrayBuffer())).toEqual(new TextEncoder().encode('abc'));
    expect(await new StringResponse('abc', init).bytes()).toEqual(new TextEncoder().encode('abc'));
    const blob = await new StringResponse('abc', init).blob();
    expect([blob.type, await blob.text()]).toEqual(['application/json', 'abc']);
    const form = await new StringResponse('a=1&b=2', { headers: { 'content-type': 'application/x-www-form-urlencoded' } }).formData();
    expect([form.get('a'), form.get('b')]).toEqual(['1', '2']);
    const streamed = await new Response(new StringResponse('via the stream', init).body).text();
    expect(streamed).toBe('via the stream');
  });

  it('says what a plain Response made from a string says of its type', () => {
    expect(new StringResponse('x', {}).headers.get('content-type')).toBe(new Response('x').headers.get('content-type'));
  });

  it('clones as a plain Response does, and refuses to once the body is used', async () => {
    const response = new StringResponse('once', init);
    const copy = response.clone();
    expect([copy.status, copy.headers.get('x-one'), await copy.text(), await response.text()]).toEqual([201, '1', 'once', 'once']);
    expect(() => response.clone()).toThrow(TypeError);
    const streamed = new StringResponse('tee', init);
    expect(streamed.body).not.toBeNull();
    expect(await streamed.clone().text()).toBe('tee');
    expect(await streamed.text()).toBe('tee');
  });

  it('hands its text to a writer once; afterwards the body is used', () => {
    const response = new StringResponse('out', init);
    expect(StringResponse.take(response)).toBe('out');
    expect(StringResponse.take(response)).toBeUndefined();
    expect(response.bodyUsed).toBe(true);
    expect(() => response.clone()).toThrow(TypeError);
    const read = new StringResponse('read', init);
    expect(read.body).not.toBeNull();
    expect(StringResponse.take(read)).toBeUndefined();
    expect(StringResponse.take(new Response('plain'))).toBeUndefined();
  });
});

describe('textResponse', () => {
  it('answers only the Node.js adapter’s requests with a StringResponse', () => {
    const plain = textResponse(new Request('http://x/'), 'a', {});
    expect(plain).toBeInstanceOf(Response);
    expect(plain).not.toBeInstanceOf(StringResponse);
    const marked = Object.assign(new Request('http://x/'), { [NODE_REQUEST]: true });
    expect(textResponse(marked, 'a', {})).toBeInstanceOf(StringResponse);
    expect(textResponse(marked, null, { status: 204 })).not.toBeInstanceOf(StringResponse);
    expect(textResponse(undefined, 'a', {})).not.toBeInstanceOf(StringResponse);
  });
});
