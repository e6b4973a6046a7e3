// The page's one JSON fetch: the bearer token when there is one, the body parsed whatever the status, and for
// stationFetch an HttpError that carries the server's own message.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { fetchJson, HttpError, stationFetch } from '../../../../src/renderer/lib/station-http.js';

afterEach(() => vi.unstubAllGlobals());

function answering(status: number, body: string): ReturnType<typeof vi.fn> {
  const f = vi.fn(async () => new Response(body, { status }));
  vi.stubGlobal('fetch', f);
  return f;
}

describe('fetchJson', () => {
  it('sends the token and a JSON body, and returns status and data for any answer', async () => {
    const f = answering(409, '{"error":{"code":"busy","message":"Station busy"}}');
    expect(await fetchJson('/api/x', 'tok', { method: 'POST', body: { a: 1 } })).toEqual({ status: 409, ok: false, data: { error: { code: 'busy', message: 'Station busy' } } });
    const [path, init] = f.mock.calls[0] as unknown as [string, RequestInit];
    expect(path).toBe('/api/x');
    expect(init.method).toBe('POST');
    expect(init.headers).toEqual({ authorization: 'Bearer tok', 'content-type': 'application/json' });
    expect(init.body).toBe('{"a":1}');
  });

  it('no token: no authorization header; a body that is not JSON reads as null', async () => {
    const f = answering(502, '<html>bad gateway</html>');
    expect(await fetchJson('/api/stations', undefined)).toEqual({ status: 502, ok: false, data: null });
    expect((f.mock.calls[0] as unknown as [string, RequestInit])[1].headers).toEqual({});
  });
});

describe('stationFetch', () => {
  it('returns the data of a 2xx answer', async () => {
    answering(200, '[{"stationId":"A"}]');
    expect(await stationFetch('/api/stations', undefined)).toEqual([{ stationId: 'A' }]);
  });

  it('throws HttpError with the server\'s message and code, or the status and path', async () => {
    answering(401, '{"error":{"code":"unauthorized","message":"Wrong token"}}');
    const e = await stationFetch('/api/settings', 'bad').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HttpError);
    expect((e as HttpError).status).toBe(401);
    expect((e as HttpError).message).toBe('Wrong token (unauthorized)');
    answering(500, '');
    await expect(stationFetch('/api/stations', undefined)).rejects.toThrow('HTTP 500 for /api/stations');
  });
});
