// One lifetime per inbound request: its "client left" signal and its "response done" promise.

import type { IncomingMessage, ServerResponse } from 'node:http';

/** How the request ended: the response finished, or the connection closed before that. */
export type RequestOutcome = { readonly finished: true; readonly statusCode: number } | { readonly finished: false };

/** Tracks one response: `done` settles once, on 'finish' or 'close'; `signal` aborts early leaves. */
export class RequestLifetime {
  private controller: AbortController | undefined = undefined;
  private doneCallbacks: Array<(outcome: RequestOutcome) => void> | undefined = undefined;
  private outcome: RequestOutcome | undefined = undefined;
  private readonly onFinish: () => void;
  private readonly onClose: () => void;

  constructor(private readonly res: ServerResponse) {
    this.onFinish = () => this.end({ finished: true, statusCode: res.statusCode });
    this.onClose = () => {
      if (res.writableFinished) this.end({ finished: true, statusCode: res.statusCode });
      else {
        this.end({ finished: false });
        this.controller?.abort(clientGone());
      }
    };
    if (res.writableFinished) this.outcome = { finished: true, statusCode: res.statusCode };
    else if (res.destroyed) this.outcome = { finished: false };
    else {
      // Plain listeners (no once-wrappers): end() removes both as soon as either fires.
      res.on('finish', this.onFinish);
      res.on('close', this.onClose);
    }
  }

  get ended(): boolean {
    return this.outcome !== undefined;
  }

  get signal(): AbortSignal {
    let controller = this.controller;
    if (controller === undefined) {
      controller = new AbortController();
      this.controller = controller;
      if (this.outcome !== undefined && !this.outcome.finished) controller.abort(clientGone());
    }
    return controller.signal;
  }

  /** The signal if someone asked for it (or it was aborted), without making one. */
  get existingSignal(): AbortSignal | undefined {
    return this.controller?.signal;
  }

  /** Aborts the signal with `reason` (guard gave up on the request, e.g. its deadline fired). */
  abort(reason: unknown): void {
    const controller = this.controller;
    if (controller === undefined) {
      this.controller = new AbortController();
      this.controller.abort(reason);
    } else if (!controller.signal.aborted) controller.abort(reason);
  }

  /** Calls `callback` once when the response is done (at once if it already is). */
  whenDone(callback: (outcome: RequestOutcome) => void): void {
    if (this.outcome !== undefined) callback(this.outcome);
    else (this.doneCallbacks ??= []).push(callback);
  }

  private end(outcome: RequestOutcome): void {
    if (this.outcome !== undefined) return;
    this.outcome = outcome;
    // Listeners go as soon as the response is over: keep-alive sockets serve many requests.
    this.res.removeListener('finish', this.onFinish);
    this.res.removeListener('close', this.onClose);
    const callbacks = this.doneCallbacks;
    this.doneCallbacks = undefined;
    if (callbacks !== undefined) for (const callback of callbacks) callback(outcome);
  }
}

function clientGone(): DOMException {
  return new DOMException('The client closed the connection before the response was complete', 'AbortError');
}

const lifetimes = new WeakMap<object, RequestLifetime>();

/** The lifetime of the request identified by `key` (one per request), answered on `res`. */
export function lifetimeOf(key: object, res: ServerResponse): RequestLifetime {
  let lifetime = lifetimes.get(key);
  if (lifetime === undefined) {
    lifetime = new RequestLifetime(res);
    lifetimes.set(key, lifetime);
  }
  return lifetime;
}

/** An existing lifetime, if guard or requestSignal already made one for `key`. */
export function existingLifetime(key: object): RequestLifetime | undefined {
  return lifetimes.get(key);
}

/**
 * The ServerResponse of a raw request when nobody handed it to us: Express sets `req.res` (a
 * documented property). Plain Node has no public link from a request to its response, so
 * anything else must pass the response (or go through `guard`, which sees both).
 */
export function responseOfRaw(req: IncomingMessage): ServerResponse | undefined {
  const own = (req as { res?: unknown }).res;
  return isServerResponse(own) ? own : undefined;
}

export function isServerResponse(value: unknown): value is ServerResponse {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ServerResponse).once === 'function' &&
    typeof (value as ServerResponse).writableFinished === 'boolean' &&
    typeof (value as ServerResponse).setHeader === 'function'
  );
}
