// Open-loop load: request i is due at start + i·(1000/rps) ms whatever happened to the
// earlier ones — the way real users keep arriving while a service is slow. (A closed loop,
// which waits for an answer before sending more, slows itself down and hides the pile-up.)
// Latency is measured from the time a request was DUE, not when the timer got to send it, so
// a late timer cannot hide queueing (no coordinated omission).
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export const OUTCOME = Object.freeze({ PENDING: 0, SUCCEEDED: 1, FAILED: 2, SHED: 3, NO_ANSWER: 4 });

/**
 * @param {{ port: number, rps: number, durationMs: number, startAt: number, drainMs: number }} options
 *   startAt is a performance.now() timestamp; drainMs bounds the wait for the last answers.
 */
export function runLoad({ port, rps, durationMs, startAt, drainMs }) {
  const intervalMs = 1000 / rps;
  const count = Math.floor((durationMs * rps) / 1000);
  const dueAt = new Float64Array(count);
  const latencyMs = new Float64Array(count);
  const outcome = new Uint8Array(count);
  const reasons = new Map();
  // No socket cap: the load generator must never be what limits concurrency.
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 2048 });
  const live = { sent: 0, answered: 0, succeeded: 0, failed: 0, shed: 0, noAnswer: 0, maxSendLagMs: 0, maxSendLagAtMs: 0 };

  let resolveDone;
  const done = new Promise((resolve) => (resolveDone = resolve));
  let drainTimer;
  let allSent = false;
  let finished = false;

  const maybeFinish = () => {
    if (allSent && live.answered === count) finish();
  };
  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(drainTimer);
    clearTimeout(tickTimer);
    agent.destroy();
    resolveDone({ count, dueAt, latencyMs, outcome, reasons, live });
  };

  const send = (i) => {
    const due = dueAt[i];
    const lag = performance.now() - due;
    if (lag > live.maxSendLagMs) {
      live.maxSendLagMs = lag;
      live.maxSendLagAtMs = due - startAt;
    }
    live.sent++;
    let answered = false;
    const answer = (kind, reason) => {
      if (answered || finished) return;
      answered = true;
      latencyMs[i] = performance.now() - due;
      outcome[i] = kind;
      if (kind === OUTCOME.SUCCEEDED) live.succeeded++;
      else if (kind === OUTCOME.SHED) live.shed++;
      else if (kind === OUTCOME.FAILED) live.failed++;
      else live.noAnswer++;
      if (reason !== undefined) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      live.answered++;
      maybeFinish();
    };
    const req = http.get({ host: '127.0.0.1', port, path: '/checkout', agent }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('error', () => answer(OUTCOME.NO_ANSWER, 'response aborted'));
      res.on('end', () => {
        const status = res.statusCode;
        if (status >= 200 && status < 300) return answer(OUTCOME.SUCCEEDED);
        const reason = reasonOf(status, Buffer.concat(chunks).toString());
        // Shed = the service refused quickly and said when to come back.
        if ((status === 503 || status === 429) && res.headers['retry-after'] !== undefined) {
          return answer(OUTCOME.SHED, reason);
        }
        return answer(OUTCOME.FAILED, reason);
      });
    });
    req.on('error', (error) => answer(OUTCOME.NO_ANSWER, `transport: ${error.code ?? error.message}`));
  };

  for (let i = 0; i < count; i++) dueAt[i] = startAt + i * intervalMs;
  let next = 0;
  let tickTimer;
  const tick = () => {
    const now = performance.now();
    while (next < count && dueAt[next] <= now) send(next++);
    if (next < count) {
      tickTimer = setTimeout(tick, Math.max(0, dueAt[next] - performance.now()));
    } else {
      allSent = true;
      drainTimer = setTimeout(finish, drainMs);
      maybeFinish();
    }
  };
  if (count === 0) {
    allSent = true;
    queueMicrotask(finish);
  } else {
    tickTimer = setTimeout(tick, Math.max(0, startAt - performance.now()));
  }
  return { done, live, count };
}

function reasonOf(status, body) {
  try {
    const parsed = JSON.parse(body);
    if (typeof parsed?.error === 'string') return `${status} ${parsed.error}`;
  } catch {
    // not JSON: fall through
  }
  return `${status}`;
}

/**
 * A few requests before the measured run, so connection set-up and the JIT compiling the
 * servers' code do not show up as a late first second.
 */
export async function warmUp(port, requests = 60, concurrency = 4) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const one = () =>
    new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/checkout', agent }, (res) => {
        res.resume();
        res.on('end', resolve);
        res.on('error', resolve);
      });
      req.on('error', resolve);
    });
  let left = requests;
  const worker = async () => {
    while (left-- > 0) await one();
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  agent.destroy();
}
