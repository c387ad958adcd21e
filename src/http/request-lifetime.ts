// One lifetime per inbound request: its "client left" signal and its "response done" promise.

import type { IncomingMessage, ServerResponse } from 'node:http';

/** How the request ended: the response finished, or the connection closed before that. */
export type RequestOutcome =
  | {
      /** The response was sent in full. */
      readonly finished: true;
      /** The status it was sent with. */
      readonly statusCode: number;
    }
  | {
      /** The connection closed first: the client left, or the response was cut off. */
      readonly finished: false;
    };

const NOT_FINISHED: RequestOutcome = Object.freeze({ finished: false });
/** One frozen outcome per status code: responses finish with a handful of codes. */
const finishedOutcomes = new Map<number, RequestOutcome>();

function finishedWith(statusCode: number): RequestOutcome {
  let outcome = finishedOutcomes.get(statusCode);
  if (outcome === undefined) {
    outcome = Object.freeze({ finished: true, statusCode });
    finishedOutcomes.set(statusCode, outcome);
  }
  return outcome;
}

/** Tracks one response: `done` settles once, on 'close'; `signal` aborts early leaves. */
export class RequestLifetime {
  private controller: AbortController | undefined = undefined;
  /** Most requests have one callback (the guard's): it needs no array. */
  private firstCallback: ((outcome: RequestOutcome) => void) | undefined = undefined;
  private moreCallbacks: Array<(outcome: RequestOutcome) => void> | undefined = undefined;
  private outcome: RequestOutcome | undefined = undefined;
  private readonly onClose: () => void;

  constructor(private readonly res: ServerResponse) {
    // A ServerResponse emits 'close' once, after 'finish' (on the next tick) or when the
    // connection goes first: one plain listener tells both apart and is removed when it fires.
    this.onClose = () => {
      if (res.writableFinished) this.end(finishedWith(res.statusCode));
      else {
        this.end(NOT_FINISHED);
        this.controller?.abort(clientGone());
      }
    };
    // `destroyed` and `finished` are own fields, cheap to read; `writableFinished` is a getter
    // looked up along the prototype chain, with no inline cache to help on Express (see below).
    if (res.destroyed) this.outcome = res.writableFinished ? finishedWith(res.statusCode) : NOT_FINISHED;
    else if (res.finished && res.writableFinished) this.outcome = finishedWith(res.statusCode);
    else res.on('close', this.onClose);
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
    else if (this.firstCallback === undefined) this.firstCallback = callback;
    else (this.moreCallbacks ??= []).push(callback);
  }

  private end(outcome: RequestOutcome): void {
    if (this.outcome !== undefined) return;
    this.outcome = outcome;
    // The listener goes as soon as the response is over: keep-alive sockets serve many requests.
    this.res.removeListener('close', this.onClose);
    const first = this.firstCallback;
    const more = this.moreCallbacks;
    this.firstCallback = undefined;
    this.moreCallbacks = undefined;
    if (first !== undefined) first(outcome);
    if (more !== undefined) for (const callback of more) callback(outcome);
  }
}

function clientGone(): DOMException {
  return new DOMException('The client closed the connection before the response was complete', 'AbortError');
}

/**
 * Where a request keeps its lifetime: a property under our own symbol. Every guarded request
 * gets it, so the requests keep one shape; it is cheaper than a WeakMap entry, whose ephemeron
 * the collector must trace, per request (a WeakMap measured 39,000 more instructions per
 * Fastify request). Whether it is there is asked with `Object.hasOwn`: Express sets the
 * prototype of every request, which leaves each one with a hidden class of its own, so reading
 * an absent property would walk the whole prototype chain with no inline cache to help.
 */
const LIFETIME = Symbol('breakwater.lifetime');

type Keyed = { [LIFETIME]?: RequestLifetime };

/** The lifetime of the request identified by `key` (one per request), answered on `res`. */
export function lifetimeOf(key: object, res: ServerResponse): RequestLifetime {
  const existing = existingLifetime(key);
  if (existing !== undefined) return existing;
  const lifetime = new RequestLifetime(res);
  (key as Keyed)[LIFETIME] = lifetime;
  return lifetime;
}

/** An existing lifetime, if guard or requestSignal already made one for `key`. */
export function existingLifetime(key: object): RequestLifetime | undefined {
  return Object.hasOwn(key, LIFETIME) ? (key as Keyed)[LIFETIME] : undefined;
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
