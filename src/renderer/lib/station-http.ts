// REST calls from a page to the server that served it (the station's settings and token; the fleet view's API), with
// the bearer token and readable errors.

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** A JSON request with the bearer token: the status and the parsed body (null when it is not JSON), whatever the status. */
export async function fetchJson(path: string, token: string | undefined, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; ok: boolean; data: unknown }> {
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    cache: 'no-store',
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  });
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  return { status: res.status, ok: res.ok, data };
}

/** fetchJson that throws HttpError with the station's own message for an answer that is not 2xx. */
export async function stationFetch<T>(path: string, token: string | undefined, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const { status, ok, data } = await fetchJson(path, token, init);
  if (!ok) {
    const err = (data as { error?: { code?: string; message?: string } } | null)?.error;
    throw new HttpError(status, err?.message ? `${err.message} (${err.code ?? status})` : `HTTP ${status} for ${path}`);
  }
  return data as T;
}
