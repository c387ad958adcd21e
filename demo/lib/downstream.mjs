// The downstream service: answers GET /price after a latency, and during the "bad deploy"
// window answers slowly and sometimes with a 500. The window is a pair of timestamps
// (performance.now()), so the fault starts and ends exactly when planned, with no timers.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { listen } from './net.mjs';

/**
 * @param {{ normalLatencyMs: number, badLatencyMs: number, badErrorRate: number }} fault
 * @param {() => number} [random] used to pick which bad-deploy answers fail
 */
export async function startDownstream(fault, random = Math.random) {
  const state = {
    badFrom: Infinity,
    badUntil: Infinity,
    received: 0,
    receivedDuringBad: 0,
    active: 0,
    peakActive: 0,
  };

  const server = http.createServer((req, res) => {
    const now = performance.now();
    const bad = now >= state.badFrom && now < state.badUntil;
    state.received++;
    if (bad) state.receivedDuringBad++;
    state.active++;
    if (state.active > state.peakActive) state.peakActive = state.active;

    // The fate of a request is decided when it arrives: a request that reached the bad build
    // stays slow even if the rollback happens while it runs.
    const latencyMs = bad ? fault.badLatencyMs : fault.normalLatencyMs;
    const fails = bad && random() < fault.badErrorRate;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      state.active--;
      clearTimeout(timer);
    };
    const timer = setTimeout(() => {
      finish();
      const body = fails ? '{"error":"internal"}' : '{"price":42}';
      res.writeHead(fails ? 500 : 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    }, latencyMs);
    // The caller gave up (a timeout upstream destroys the socket): stop working for it.
    res.on('close', finish);
    req.resume();
  });
  // Hundreds of callers may pile up on a slow build; keep-alive lets them reuse sockets.
  server.keepAliveTimeout = 10_000;
  const port = await listen(server);

  return {
    port,
    state,
    /** Plans the bad deploy: [from, until) in performance.now() milliseconds. */
    scheduleBadDeploy(from, until) {
      state.badFrom = from;
      state.badUntil = until;
    },
    /** Forgets the warm-up traffic. */
    resetCounters() {
      state.received = 0;
      state.receivedDuringBad = 0;
      state.peakActive = state.active;
    },
    close: () => closeServer(server),
  };
}

export function closeServer(server) {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
