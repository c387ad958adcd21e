// Load test of the HTTP guards on loopback, with autocannon, side by side with the peers
// (express-rate-limit, @fastify/rate-limit) on the same apps, in one run:
//
// 1. Healthy routes, each bare, behind breakwater's guard, and behind the framework's peer:
//    - "json": serializes a ~4 KB JSON body (40 catalogue items) per request. CPU work, not a
//      sleep: a simulated 1–2 ms downstream would be idle time that hides any guard behind
//      timer jitter, while serializing is the work a small real handler does on every request;
//    - "empty": answers "ok", so that the guard's own cost is as large a share as it can be;
//    - "call": the shape of most service routes: it fetches a small JSON document from a healthy
//      downstream on loopback (keep-alive, answered at once, no sleep) and returns it.
//    Guards: breakwater with a per-client limiter (the job the peers do), breakwater as in the
//    docs' recipes (per-client limiter, then a bulkhead with a queue and a 2 s deadline), and
//    the peer. Latency with one connection, so that p50 is the time one request takes, not a
//    queue; every response time is kept (not autocannon's millisecond histogram). Requests/s
//    from a second run of each row with 10 connections (one is paced by autocannon itself). Rounds interleave the
//    variants in rotating order; every figure is the median over rounds, and "× bare" is the
//    ratio to the bare route's median p50 of the same run.
// 2. A failing downstream (every call answered 503): a guarded route that calls it through
//    resilientFetch (retry + breaker + timeout), and a peer-guarded route that calls it with a
//    plain fetch, under 50 connections. No request may be lost: every request sent must be
//    answered (any status), with no socket error and no timeout.
//
// The apps run in a child process (node bench/http.mjs --serve) so that autocannon and the
// servers do not share an event loop. Loopback only; every run is bounded by a request count,
// and the whole script by a watchdog. The machine the committed numbers come from is shared:
// run it under `nice` and read small differences (a few %) as noise unless they repeat.
//
// Usage: npm run bench:http [-- --quick] [-- --json file.json] [-- --write-docs]
//   --write-docs  writes bench/results/http.json and the HTTP section of docs/benchmarks.md
// Imports the BUILT package (dist/): `npm run bench:http` builds first.
import { fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { httpEnvironment } from './lib/env.mjs';
import { HTTP_JSON, writeHttpDocs } from './lib/http-report.mjs';

const HERE = fileURLToPath(import.meta.url);
const HOST = '127.0.0.1';

// ---------------------------------------------------------------------------------------------
// The apps (child process)

/** The healthy "json" route's body: 40 catalogue items, ~4 KB once serialized. */
function catalogue() {
  const items = [];
  for (let i = 0; i < 40; i++) {
    items.push({ id: `sku-${1000 + i}`, name: `Item number ${i}`, priceCents: 995 + i * 37, inStock: i % 3 !== 0, tags: ['outdoor', 'sale'] });
  }
  return { page: 1, pageSize: items.length, total: 4_000, items };
}

async function serve() {
  const http = await import('node:http');
  const { default: express } = await import('express');
  const { rateLimit } = await import('express-rate-limit');
  const { default: Fastify } = await import('fastify');
  const { default: fastifyRateLimit } = await import('@fastify/rate-limit');
  const bw = await import('../dist/index.js');
  const bwExpress = await import('../dist/express.js');
  const bwFastify = await import('../dist/fastify.js');
  const { resilientFetch } = await import('../dist/fetch.js');

  const listen = (server) => new Promise((resolve) => server.listen(0, HOST, () => resolve(server.address().port)));
  const body = catalogue();

  // The failing downstream: every call 503.
  const downstream = http.createServer((req, res) => {
    req.resume();
    res.writeHead(503, { 'content-type': 'text/plain' }).end('down');
  });
  const downUrl = `http://${HOST}:${await listen(downstream)}/`;
  // The healthy downstream of the "call" route: a small JSON document, answered at once.
  const healthyBody = JSON.stringify({ sku: 'sku-1000', inStock: true, quantity: 12 });
  const healthy = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(healthyBody) }).end(healthyBody);
  });
  const healthyUrl = `http://${HOST}:${await listen(healthy)}/`;
  const stock = async () => (await fetch(healthyUrl)).json();

  // What the peers do, as a breakwater guard: a bucket per client IP that never runs dry here.
  const perClient = () => bw.keyedRateLimiter({ capacity: 1e9, refillPerSecond: 1e9, maxKeys: 10_000, name: 'per-client' });
  const shed = () => bw.bulkhead({ maxConcurrent: 256, maxQueue: 256 });
  const outbound = () =>
    resilientFetch(
      bw.pipeline(
        bw.retry({ maxRetries: 2, handle: (error) => !(error instanceof bw.CircuitOpenError) }),
        bw.circuitBreaker({ halfOpenAfterMs: 5_000, failureRatio: 0.5, windowMs: 10_000, minimumThroughput: 20 }),
        bw.timeout(500),
      ),
      { propagateDeadline: true },
    );
  const deadline = { deadlineHeader: 'x-request-timeout-ms', deadlineMs: 2_000 };

  // Express: one router per variant, the same two routes on each.
  const app = express();
  const routes = (router) => {
    router.get('/empty', (_req, res) => res.send('ok'));
    router.get('/json', (_req, res) => res.json(body));
    router.get('/call', async (_req, res) => res.json(await stock()));
    return router;
  };
  const expressLimiter = perClient();
  const expressRecipeLimiter = perClient();
  const expressShed = shed();
  app.use('/bare', routes(express.Router()));
  app.use('/guard', bwExpress.guard((req) => expressLimiter.get(req.ip ?? '')), routes(express.Router()));
  app.use(
    '/recipe',
    bwExpress.guard((req) => expressRecipeLimiter.get(req.ip ?? '')),
    bwExpress.guard(expressShed, deadline),
    routes(express.Router()),
  );
  app.use('/peer', rateLimit({ windowMs: 60_000, limit: 1e9, standardHeaders: 'draft-8', legacyHeaders: false }), routes(express.Router()));
  const expressInventory = outbound();
  app.get(
    '/down',
    bwExpress.guard((req) => expressLimiter.get(req.ip ?? '')),
    bwExpress.guard(shed(), deadline),
    async (req, res) => {
      const response = await expressInventory(downUrl, { signal: bwExpress.requestSignal(req) });
      await response.body?.cancel();
      res.status(response.ok ? 200 : 502).send(response.ok ? 'ok' : 'downstream failed');
    },
  );
  app.get(
    '/down-peer',
    rateLimit({ windowMs: 60_000, limit: 1e9, standardHeaders: 'draft-8', legacyHeaders: false }),
    async (_req, res) => {
      try {
        const response = await fetch(downUrl);
        await response.body?.cancel();
        res.status(response.ok ? 200 : 502).send(response.ok ? 'ok' : 'downstream failed');
      } catch {
        res.status(502).send('downstream failed');
      }
    },
  );
  app.use(bwExpress.breakwaterErrorHandler());
  const expressServer = http.createServer(app);
  const expressPort = await listen(expressServer);

  // Fastify: one context per variant, the same two routes in each.
  const fastify = Fastify({ forceCloseConnections: true });
  const fastifyRoutes = (api) => {
    api.get('/empty', async () => 'ok');
    api.get('/json', async () => body);
    api.get('/call', async () => stock());
  };
  await fastify.register(async (api) => fastifyRoutes(api), { prefix: '/bare' });
  const fastifyLimiter = perClient();
  await fastify.register(
    async (api) => {
      await api.register(bwFastify.breakwaterGuard, { policy: (request) => fastifyLimiter.get(request.ip) });
      fastifyRoutes(api);
    },
    { prefix: '/guard' },
  );
  const fastifyRecipeLimiter = perClient();
  const fastifyShed = shed();
  await fastify.register(
    async (api) => {
      await api.register(bwFastify.breakwaterGuard, { policy: (request) => fastifyRecipeLimiter.get(request.ip) });
      await api.register(async (inner) => {
        await inner.register(bwFastify.breakwaterGuard, { policy: fastifyShed, ...deadline });
        fastifyRoutes(inner);
      });
    },
    { prefix: '/recipe' },
  );
  await fastify.register(
    async (api) => {
      await api.register(fastifyRateLimit, { max: 1e9, timeWindow: 60_000 });
      fastifyRoutes(api);
    },
    { prefix: '/peer' },
  );
  const fastifyInventory = outbound();
  await fastify.register(async (api) => {
    await api.register(bwFastify.breakwaterGuard, { policy: (request) => fastifyLimiter.get(request.ip) });
    await api.register(async (recipe) => {
      await recipe.register(bwFastify.breakwaterGuard, { policy: shed(), ...deadline });
      recipe.setErrorHandler(bwFastify.breakwaterErrorHandler());
      recipe.get('/down', async (request, reply) => {
        const response = await fastifyInventory(downUrl, { signal: bwFastify.requestSignal(request) });
        await response.body?.cancel();
        return reply.code(response.ok ? 200 : 502).send(response.ok ? 'ok' : 'downstream failed');
      });
    });
  });
  await fastify.register(async (peer) => {
    await peer.register(fastifyRateLimit, { max: 1e9, timeWindow: 60_000 });
    peer.get('/down-peer', async (_request, reply) => {
      try {
        const response = await fetch(downUrl);
        await response.body?.cancel();
        return reply.code(response.ok ? 200 : 502).send(response.ok ? 'ok' : 'downstream failed');
      } catch {
        return reply.code(502).send('downstream failed');
      }
    });
  });
  await fastify.listen({ port: 0, host: HOST });
  const fastifyPort = fastify.server.address().port;

  process.send({ express: `http://${HOST}:${expressPort}`, fastify: `http://${HOST}:${fastifyPort}` });
  process.once('message', async () => {
    expressServer.closeAllConnections();
    expressServer.close();
    downstream.closeAllConnections();
    downstream.close();
    healthy.closeAllConnections();
    healthy.close();
    await fastify.close();
    process.disconnect();
  });
}

// ---------------------------------------------------------------------------------------------
// The load (parent process)

const VARIANTS = [
  ['bare', '/bare'],
  ['breakwater: per-client limiter', '/guard'],
  ['breakwater: recipe (limiter, bulkhead with queue, deadline)', '/recipe'],
  ['peer', '/peer'],
];
const PEERS = { express: 'express-rate-limit', fastify: '@fastify/rate-limit' };
const ROUTES = ['json', 'empty', 'call'];

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function main(argv) {
  const quick = argv.includes('--quick');
  const writeDocs = argv.includes('--write-docs');
  const jsonAt = argv.indexOf('--json');
  const jsonFile = jsonAt === -1 ? undefined : argv[jsonAt + 1];
  const { default: autocannon } = await import('autocannon');
  const settings = quick
    ? { rounds: 3, healthyAmount: 1_000, downAmount: 2_000, warmup: 500, connections: 1, throughputConnections: 10, downConnections: 50 }
    : { rounds: 7, healthyAmount: 3_000, downAmount: 10_000, warmup: 2_000, connections: 1, throughputConnections: 10, downConnections: 50 };
  const startedAt = Date.now();

  // Nothing here may run away: the whole run is bounded.
  const watchdog = setTimeout(() => {
    console.error('bench/http.mjs: over its time limit, stopping');
    process.exit(2);
  }, quick ? 300_000 : 1_500_000);

  const child = fork(HERE, ['--serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const urls = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`the apps exited with ${code} before listening`)));
  });

  /** One bounded autocannon run; every response time kept for exact percentiles. */
  const load = (url, amount, connections) =>
    new Promise((resolve, reject) => {
      const times = [];
      const statuses = {};
      const startedMs = performance.now();
      let lastResponseMs = startedMs;
      const instance = autocannon({ url, amount, connections, timeout: 10, pipelining: 1 }, (error, result) => {
        if (error) return reject(error);
        // Up to the last response: autocannon itself reports only on its one-second ticks.
        const elapsedMs = lastResponseMs - startedMs;
        times.sort((a, b) => a - b);
        const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
        resolve({
          sent: amount,
          answered: times.length,
          statuses,
          errors: result.errors,
          timeouts: result.timeouts,
          non2xx: result.non2xx,
          p50: at(0.5),
          p99: at(0.99),
          requestsPerSecond: (times.length * 1000) / elapsedMs,
        });
      });
      instance.on('response', (_client, statusCode, _bytes, responseTime) => {
        times.push(responseTime);
        lastResponseMs = performance.now();
        statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
      });
    });

  const report = { settings, environment: httpEnvironment(), healthy: [], failing: [] };
  const log = (line) => console.error(line);

  // 1. Healthy routes. Warm every route up first (JIT, connection setup).
  for (const framework of ['express', 'fastify']) {
    for (const route of ROUTES) for (const [, prefix] of VARIANTS) await load(`${urls[framework]}${prefix}/${route}`, settings.warmup, 1);
  }
  const cases = [];
  for (const framework of ['express', 'fastify']) for (const route of ROUTES) for (const variant of VARIANTS) cases.push({ framework, route, variant, runs: [], throughput: [] });
  for (let round = 0; round < settings.rounds; round++) {
    // Interleaved: every case once per round; the variants of one route run back to back, in
    // an order that rotates with the round, so drift on a shared machine favours none of them.
    for (const framework of ['express', 'fastify']) {
      for (const route of ROUTES) {
        const group = cases.filter((c) => c.framework === framework && c.route === route);
        for (let k = 0; k < group.length; k++) {
          const c = group[(k + round) % group.length];
          log(`healthy: ${framework} /${route} ${c.variant[0]}, round ${round + 1}/${settings.rounds}`);
          const url = `${urls[framework]}${c.variant[1]}/${route}`;
          c.runs.push(await load(url, settings.healthyAmount, settings.connections));
          // One connection is paced by autocannon (about one request per ms): throughput needs several.
          c.throughput.push(await load(url, settings.healthyAmount, settings.throughputConnections));
        }
      }
    }
  }
  for (const c of cases) {
    const bare = cases.find((b) => b.framework === c.framework && b.route === c.route && b.variant[1] === '/bare');
    const p50 = median(c.runs.map((r) => r.p50));
    const bareP50 = median(bare.runs.map((r) => r.p50));
    // The per-round ratio to the bare run of the same round, too: steadier when the machine drifts.
    const perRound = median(c.runs.map((r, i) => r.p50 / bare.runs[i].p50));
    report.healthy.push({
      framework: c.framework,
      route: c.route,
      variant: c.variant[1] === '/peer' ? PEERS[c.framework] : c.variant[0],
      p50Ms: p50,
      p99Ms: median(c.runs.map((r) => r.p99)),
      requestsPerSecond: median(c.throughput.map((r) => r.requestsPerSecond)),
      requestsPerSecondVsBare: median(c.throughput.map((r, i) => r.requestsPerSecond / bare.throughput[i].requestsPerSecond)),
      p50VsBare: p50 / bareP50,
      p50VsBarePerRound: perRound,
      sent: [...c.runs, ...c.throughput].reduce((n, r) => n + r.sent, 0),
      answered: [...c.runs, ...c.throughput].reduce((n, r) => n + r.answered, 0),
      non2xx: [...c.runs, ...c.throughput].reduce((n, r) => n + r.non2xx, 0),
      errors: [...c.runs, ...c.throughput].reduce((n, r) => n + r.errors + r.timeouts, 0),
    });
  }

  // 2. The downstream fails. A short warm-up first (JIT, connections); the breaker it opens
  // stays open, as it would while the downstream keeps failing.
  for (const framework of ['express', 'fastify']) {
    for (const path of ['/down', '/down-peer']) await load(urls[framework] + path, settings.warmup, settings.downConnections);
  }
  for (const framework of ['express', 'fastify']) {
    for (const [variant, path] of [
      ['breakwater guard + resilientFetch', '/down'],
      [`${PEERS[framework]} + fetch`, '/down-peer'],
    ]) {
      log(`failing downstream: ${framework} ${variant}`);
      const run = await load(urls[framework] + path, settings.downAmount, settings.downConnections);
      report.failing.push({ framework, variant, ...run });
    }
  }

  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));
  clearTimeout(watchdog);
  report.seconds = Math.round((Date.now() - startedAt) / 1000);
  report.quick = quick;

  const lost = [...report.failing, ...report.healthy].filter((r) => r.answered !== r.sent || r.errors > 0 || (r.timeouts ?? 0) > 0);
  report.lost = lost.length;
  const { renderHttp } = await import('./lib/http-report.mjs');
  console.log(renderHttp(report));
  if (jsonFile !== undefined) writeFileSync(jsonFile, JSON.stringify(report, null, 2));
  if (writeDocs) {
    writeFileSync(HTTP_JSON, `${JSON.stringify(report, null, 2)}\n`);
    writeHttpDocs(report, readFileSync, writeFileSync);
    log('wrote bench/results/http.json and the HTTP section of docs/benchmarks.md');
  }
  if (lost.length > 0) {
    console.error('bench/http.mjs: some requests were not answered');
    process.exitCode = 1;
  }
}

if (process.argv[2] === '--serve') await serve();
else await main(process.argv.slice(2));
