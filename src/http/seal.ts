// After the guard has answered a request whose handler still runs, the handler's own writes
// must go nowhere, quietly: Node throws ERR_HTTP_HEADERS_SENT for a header set after the
// answer, and a write after end() becomes an 'error' event. Sealing shadows the writing
// methods of that one response object with no-ops (the same technique compression middleware
// uses to wrap them), so a late `res.json(...)` or `res.setHeader(...)` does nothing.

import type { ServerResponse } from 'node:http';

const SEALED = Symbol('breakwater.sealed');

/** Calls the last argument if it is a callback, after the current turn, as Node would. */
function settleCallback(args: readonly unknown[]): void {
  const last = args[args.length - 1];
  if (typeof last === 'function') Promise.resolve().then(() => (last as () => void)());
}

/** True once `sealResponse` was applied to `res`. */
export function isSealed(res: ServerResponse): boolean {
  return (res as unknown as Record<symbol, unknown>)[SEALED] === true;
}

/** Makes every later write to `res` a quiet no-op. Call only once the answer has been written. */
export function sealResponse(res: ServerResponse): void {
  if (isSealed(res)) return;
  const target = res as unknown as Record<PropertyKey, unknown>;
  target[SEALED] = true;
  const returnThis = function (this: ServerResponse): ServerResponse {
    return this;
  };
  for (const method of ['setHeader', 'setHeaders', 'appendHeader', 'removeHeader', 'writeHead', 'flushHeaders', 'addTrailers']) {
    target[method] = returnThis;
  }
  target['write'] = (...args: unknown[]): boolean => {
    settleCallback(args);
    return true;
  };
  target['end'] = function (this: ServerResponse, ...args: unknown[]): ServerResponse {
    settleCallback(args);
    return this;
  };
}
