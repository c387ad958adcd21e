// How the upstream calls the downstream: node:http with a keep-alive agent and no socket cap,
// so nothing in the client limits concurrency — only breakwater (or nothing) does. It also
// counts the calls in flight: the number the demo's "peak in-flight" reports.
import http from 'node:http';

/** A downstream answer that was not 2xx. Not a breakwater error, so retry may handle it. */
export class DownstreamError extends Error {
  constructor(status) {
    super(`downstream answered ${status}`);
    this.name = 'DownstreamError';
    this.status = status;
  }
}

export function createDownstreamClient(port) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 1024 });
  const meter = { inFlight: 0, peakInFlight: 0, started: 0 };

  /**
   * GET /price. With a `signal`, an abort destroys the request at once (its socket is not
   * reused) and the promise rejects with `signal.reason` — so a timeout really ends the call
   * instead of leaving it running behind the caller's back.
   */
  function call(signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      meter.started++;
      meter.inFlight++;
      if (meter.inFlight > meter.peakInFlight) meter.peakInFlight = meter.inFlight;
      let settled = false;
      const settle = (error, value) => {
        if (settled) return;
        settled = true;
        meter.inFlight--;
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve(value);
        else reject(error);
      };
      const req = http.request({ host: '127.0.0.1', port, path: '/price', method: 'GET', agent }, (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          if (res.statusCode >= 200 && res.statusCode < 300) settle(undefined, Buffer.concat(chunks).toString());
          else settle(new DownstreamError(res.statusCode));
        });
        res.on('error', (error) => settle(error));
      });
      // Counted out synchronously on abort: the socket is destroyed right here, so the call
      // no longer occupies the downstream from the caller's point of view.
      const onAbort = () => {
        settle(signal.reason);
        req.destroy();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (error) => settle(error));
      req.end();
    });
  }

  return { call, meter, close: () => agent.destroy() };
}
