/** A response as the tour reads it. */
export interface TourResponse {
  status: number;
  body: unknown;
}

/**
 * A tiny HTTP client for the tour: one "browser" per service that keeps the read-your-writes
 * token the service hands out, as a cookie would.
 */
export class HttpClient {
  #token: string | undefined;

  constructor(
    readonly base: string,
    private readonly tokenHeader: string | undefined,
  ) {}

  /**
   * Sends one request. `fresh` sends it as a client that has no token (and keeps none).
   */
  async send(
    method: string,
    path: string,
    body?: unknown,
    options: { fresh?: boolean } = {},
  ): Promise<TourResponse> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.tokenHeader && this.#token && !options.fresh) headers[this.tokenHeader] = this.#token;
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (this.tokenHeader && !options.fresh) {
      const token = response.headers.get(this.tokenHeader);
      if (token) this.#token = token;
    }
    const text = await response.text();
    if (response.status >= 500)
      throw new Error(`${method} ${path} -> HTTP ${response.status}: ${text}`);
    return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null };
  }
}
