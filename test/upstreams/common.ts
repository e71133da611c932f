// What the mock upstreams share.

/**
 * A server-wide fault, decided per request: `status` (400-599) answers with that status in the provider's error
 * shape (429 adds `retry-after: retryAfter`, default 1); `directives` handles the request as if they ended its
 * prompt (`#reset`, `#hang`, `#badjson`, `#cut:N`, `#stall:N`, `#truncate:N`, `#error_event`, … — each mock's
 * header lists the ones it knows). Lets a test break one upstream as a whole, whatever the prompt says.
 */
export interface MockFault {
  status?: number;
  retryAfter?: number;
  /** With `status`: the error body's message in place of the documented one (as an upstream may word it). */
  message?: string;
  directives?: string;
}
