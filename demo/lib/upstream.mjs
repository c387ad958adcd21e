// The upstream service: an Express app whose GET /checkout calls the downstream for every
// request. Unprotected, it just awaits the call. Protected, the call runs inside a breakwater
// policy and the route turns the policy's rejections into answers with `rejectionFor`, the
// mapping `breakwater/express`'s guard uses — written out so the demo shows how.
import http from 'node:http';
import express from 'express';
import { rejectionFor } from '../../dist/express.js';
import { DownstreamError } from './downstream-client.mjs';
import { listen } from './net.mjs';

/**
 * @param {{ call: (signal?: AbortSignal) => Promise<string> }} client
 * @param {{ execute: Function } | undefined} policy  undefined = unprotected
 * @param {{ timeoutMs: number }} config
 */
export async function startUpstream(client, policy, config) {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  app.get('/checkout', async (_req, res) => {
    try {
      const body =
        policy === undefined
          ? await client.call()
          : await policy.execute(({ signal }) => client.call(signal));
      res.status(200).type('application/json').send(`{"ok":true,"downstream":${body}}`);
    } catch (error) {
      answerFailure(res, error, config);
    }
  });

  const server = http.createServer(app);
  server.keepAliveTimeout = 10_000;
  const port = await listen(server);
  return { port, server };
}

/** A full bulkhead, or an adaptive limit reached (ConcurrencyLimitError extends BulkheadFullError). */
const FULL = new Set(['ERR_BULKHEAD_FULL', 'ERR_CONCURRENCY_LIMIT']);

/**
 * Fast rejections (the call never reached the downstream) are load shedding: 503 with a
 * Retry-After telling well-behaved clients when to come back. `rejectionFor` is the mapping
 * `breakwater/express`'s guard answers with; a full bulkhead (or a reached adaptive limit) has no retry time of its own, so
 * the demo gives one (a slot frees up within one call's timeout at the latest). A timeout or a
 * downstream error is a real failure: the call was made and did not work.
 */
export function answerFailure(res, error, config) {
  const rejection = rejectionFor(error, { retryAfterSeconds: Math.min(86_400, Math.max(1, Math.ceil(config.timeoutMs / 1000))) });
  if (rejection !== undefined) {
    const retryAfter = rejection.retryAfterSeconds;
    if (retryAfter !== undefined) res.set('Retry-After', String(retryAfter));
    return res.status(rejection.status).json({ error: rejection.code });
  }
  if (error instanceof DownstreamError) return res.status(502).json({ error: `DOWNSTREAM_${error.status}` });
  return res.status(502).json({ error: 'DOWNSTREAM_UNREACHABLE' });
}
