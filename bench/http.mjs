// Load test of the HTTP guards on loopback, with autocannon, side by side with the peers
// (express-rate-limit, @fastify/rate-limit) on the same apps, in one run:
//
// 1. A failing downstream (every call answered 503): a guarded route that calls it through
//    resilientFetch (retry + breaker + timeout), and a peer-guarded route that calls it with a
//    plain fetch. Every request must be answered: responses, statuses, errors and timeouts are
//    counted.
// 2. A healthy route ("ok", nothing else): bare, behind the guard (a per-IP rate limiter, the
//    same job the peers do), behind the guard of the recipes (per-IP limiter, then a bulkhead
//    with a deadline), and behind the peer. One connection, so that p50 is the time one
//    request takes, not a queue; exact (every response time is kept, not autocannon's
//    millisecond histogram); median over rounds run in rotating order.
//
// The apps run in a child process (node bench/http.mjs --serve) so that autocannon and the
// servers do not share an event loop. Loopback only; every run is bounded by a request count,
// and the whole script by a watchdog.
//
// Usage: npm run bench:http [-- --quick] [-- --json file.json]
// Imports the BUILT package (dist/): `npm run bench:http` builds first.
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(import.meta.url);
const HOST = '127.0.0.1';

if (process.argv[2] === '--serve') await serve();
else await main(process.argv.slice(2));

// ---------------------------------------------------------------------------------------------
// The apps (child process)

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

  // The failing downstream: every call 503.
  const downstream = http.createServer((req, res) => {
    req.resume();
    res.writeHead(503, { 'content-type': 'text/plain' }).end('down');
  });
  const downUrl = `http://${HOST}:${await listen(downstream)}/`;

  // What the peers do, as a breakwater guard: a bucket per client IP that never runs dry here.
  const perIpLimiter = () => bw.keyedRateLimiter({ capacity: 1e9, refillPerSecond: 1e9, maxKeys: 10_000, name: 'per-ip' });
  const recipeShed = () => bw.bulkhead({ maxConcurrent: 256, maxQueue: 256 });
  const outbound = () =>
    resilientFetch(
      bw.pipeline(
        bw.retry({ maxRetries: 2, handle: (error) => !(error instanceof bw.CircuitOpenError) }),
        bw.circuitBreaker({ halfOpenAfterMs: 5_000, failureRatio: 0.5, windowMs: 10_000, minimumThroughput: 20 }),
        bw.timeout(500),
      ),
      { propagateDeadline: true },
    );
  const peerExpressLimit = () => rateLimit({ windowMs: 60_000, limit: 1e9, standardHeaders: 'draft-8', legacyHeaders: false });

  // Express
  const app = express();
  const expressIp = perIpLimiter();
  const expressInventory = outbound();
  app.get('/bare', (_req, res) => res.send('ok'));
  app.get('/guard', bwExpress.guard((req) => expressIp.get(req.ip ?? '')), (_req, res) => res.send('ok'));
  app.get(
    '/guard-recipe',
    bwExpress.guard((req) => expressIp.get(req.ip ?? '')),
    bwExpress.guard(recipeShed(), { deadlineHeader: true, deadlineMs: 2_000 }),
    (_req, res) => res.send('ok'),
  );
  app.get('/peer', peerExpressLimit(), (_req, res) => res.send('ok'));
  app.get(
    '/down',
    bwExpress.guard((req) => expressIp.get(req.ip ?? '')),
    bwExpress.guard(recipeShed(), { deadlineHeader: true, deadlineMs: 2_000 }),
    async (req, res) => {
      const response = await expressInventory(downUrl, { signal: bwExpress.requestSignal(req) });
      await response.body?.cancel();
      res.status(response.ok ? 200 : 502).send(response.ok ? 'ok' : 'downstream failed');
    },
  );
  app.get('/down-peer', peerExpressLimit(), async (_req, res) => {
    try {
      const response = await fetch(downUrl);
      await response.body?.cancel();
      res.status(response.ok ? 200 : 502).send(response.ok ? 'ok' : 'downstream failed');
    } catch {
      res.status(502).send('downstream failed');
    }
  });
  app.use(bwExpress.breakwaterErrorHandler());
  const expressServer = http.createServer(app);
  const expressPort = await listen(expressServer);

  // Fastify
  const fastify = Fastify({ forceCloseConnections: true });
  const fastifyIp = perIpLimiter();
  const fastifyInventory = outbound();
  fastify.get('/bare', async () => 'ok');
  await fastify.register(async (api) => {
    await api.register(bwFastify.breakwaterGuard, { policy: (request) => fastifyIp.get(request.ip) });
    api.get('/guard', async () => 'ok');
    await api.register(async (recipe) => {
      await recipe.register(bwFastify.breakwaterGuard, { policy: recipeShed(), deadlineHeader: true, deadlineMs: 2_000 });
      recipe.setErrorHandler(bwFastify.breakwaterErrorHandler());
      recipe.get('/guard-recipe', async () => 'ok');
      recipe.get('/down', async (request, reply) => {
        const response = await fastifyInventory(downUrl, { signal: bwFastify.requestSignal(request) });
        await response.body?.cancel();
        return reply.code(response.ok ? 200 : 502).send(response.ok ? 'ok' : 'downstream failed');
      });
    });
  });
  await fastify.register(async (peer) => {
    await peer.register(fastifyRateLimit, { max: 1e9, timeWindow: 60_000 });
    peer.get('/peer', async () => 'ok');
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
    await fastify.close();
    process.disconnect();
  });
}

// ---------------------------------------------------------------------------------------------
// The load (parent process)

async function main(argv) {
  const quick = argv.includes('--quick');
  const jsonAt = argv.indexOf('--json');
  const jsonFile = jsonAt === -1 ? undefined : argv[jsonAt + 1];
  const { default: autocannon } = await import('autocannon');
  const settings = quick
    ? { rounds: 3, healthyAmount: 1_000, downAmount: 2_000, warmup: 500, connections: 1, downConnections: 50 }
    : { rounds: 7, healthyAmount: 3_000, downAmount: 10_000, warmup: 2_000, connections: 1, downConnections: 50 };

  // Nothing here may run away: the whole run is bounded.
  const watchdog = setTimeout(() => {
    console.error('bench/http.mjs: over its time limit, stopping');
    process.exit(2);
  }, quick ? 120_000 : 600_000);

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
      const instance = autocannon({ url, amount, connections, timeout: 10, pipelining: 1 }, (error, result) => {
        if (error) return reject(error);
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
        });
      });
      instance.on('response', (_client, statusCode, _bytes, responseTime) => {
        times.push(responseTime);
        statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
      });
    });

  const report = { settings, failing: [], healthy: [] };
  const log = (line) => console.error(line);

  // 1. The downstream fails. A short warm-up first (JIT, connections); the breaker it opens
  // stays open, as it would while the downstream keeps failing.
  for (const framework of ['express', 'fastify']) {
    for (const path of ['/down', '/down-peer']) await load(urls[framework] + path, settings.warmup, settings.downConnections);
  }
  for (const framework of ['express', 'fastify']) {
    for (const [variant, path] of [
      ['breakwater guard + resilientFetch', '/down'],
      [framework === 'express' ? 'express-rate-limit + fetch' : '@fastify/rate-limit + fetch', '/down-peer'],
    ]) {
      log(`failing downstream: ${framework} ${variant}`);
      const run = await load(urls[framework] + path, settings.downAmount, settings.downConnections);
      report.failing.push({ framework, variant, ...run });
    }
  }

  // 2. A healthy route, bare and guarded.
  const variants = {
    express: [
      ['bare', '/bare'],
      ['breakwater guard (per-IP limiter)', '/guard'],
      ['breakwater guard (recipe: limiter, bulkhead, deadline)', '/guard-recipe'],
      ['express-rate-limit', '/peer'],
    ],
    fastify: [
      ['bare', '/bare'],
      ['breakwater guard (per-IP limiter)', '/guard'],
      ['breakwater guard (recipe: limiter, bulkhead, deadline)', '/guard-recipe'],
      ['@fastify/rate-limit', '/peer'],
    ],
  };
  for (const framework of ['express', 'fastify']) {
    const list = variants[framework];
    const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    // Warm up every route (JIT, connection setup) before anything is kept.
    for (const [, path] of list) await load(urls[framework] + path, settings.warmup, settings.connections);
    const runs = new Map(list.map(([name]) => [name, []]));
    for (let round = 0; round < settings.rounds; round++) {
      // Rotate the order so that drift on a shared machine does not favour one variant.
      for (let k = 0; k < list.length; k++) {
        const [name, path] = list[(k + round) % list.length];
        log(`healthy route: ${framework} ${name}, round ${round + 1}/${settings.rounds}`);
        runs.get(name).push(await load(urls[framework] + path, settings.healthyAmount, settings.connections));
      }
    }
    const bareP50 = median(runs.get('bare').map((r) => r.p50));
    for (const [name] of list) {
      const kept = runs.get(name);
      const p50 = median(kept.map((r) => r.p50));
      report.healthy.push({
        framework,
        variant: name,
        p50Ms: p50,
        p99Ms: median(kept.map((r) => r.p99)),
        overheadVsBare: p50 / bareP50 - 1,
        answered: kept.reduce((n, r) => n + r.answered, 0),
        sent: kept.reduce((n, r) => n + r.sent, 0),
        non2xx: kept.reduce((n, r) => n + r.non2xx, 0),
        errors: kept.reduce((n, r) => n + r.errors + r.timeouts, 0),
      });
    }
  }

  child.send('stop');
  await new Promise((resolve) => child.once('exit', resolve));
  clearTimeout(watchdog);

  const ms = (v) => v.toFixed(3);
  const lines = [];
  lines.push(`# HTTP guards under load (loopback, ${quick ? 'quick' : 'full'} run, Node ${process.version})`);
  lines.push('');
  lines.push(`Failing downstream (every call 503), ${settings.downAmount} requests, ${settings.downConnections} connections:`);
  lines.push('');
  lines.push('| framework | route | sent | answered | statuses | errors | timeouts | p50 ms | p99 ms |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of report.failing) {
    const statuses = Object.entries(r.statuses).map(([s, n]) => `${s}×${n}`).join(' ');
    lines.push(`| ${r.framework} | ${r.variant} | ${r.sent} | ${r.answered} | ${statuses} | ${r.errors} | ${r.timeouts} | ${ms(r.p50)} | ${ms(r.p99)} |`);
  }
  lines.push('');
  lines.push(`Healthy route, ${settings.healthyAmount} requests × ${settings.rounds} rounds, ${settings.connections} connections (median of rounds):`);
  lines.push('');
  lines.push('| framework | in front of the route | p50 ms | vs bare | p99 ms | answered | non-2xx | errors |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of report.healthy) {
    const vs = r.variant === 'bare' ? '—' : `${r.overheadVsBare >= 0 ? '+' : ''}${(r.overheadVsBare * 100).toFixed(1)} %`;
    lines.push(`| ${r.framework} | ${r.variant} | ${ms(r.p50Ms)} | ${vs} | ${ms(r.p99Ms)} | ${r.answered}/${r.sent} | ${r.non2xx} | ${r.errors} |`);
  }
  console.log(lines.join('\n'));
  if (jsonFile !== undefined) writeFileSync(jsonFile, JSON.stringify(report, null, 2));
  const lost = [...report.failing, ...report.healthy].some((r) => r.answered !== r.sent);
  if (lost) {
    console.error('bench/http.mjs: some requests were not answered');
    process.exitCode = 1;
  }
}
