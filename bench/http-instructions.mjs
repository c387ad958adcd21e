// Instructions per request of the HTTP guards, counted by valgrind's callgrind in the server
// process: the one figure of a guard's cost that a shared, noisy machine does not move.
//
// Each row is one app (Express 5 or Fastify 5) with one route: `GET /empty` answering "ok", or
// with --route call `GET /call`, the shape of most service routes, which fetches a small JSON
// document from a healthy downstream (served by this process, so not counted) and returns it,
// in front of which sits one variant: nothing (bare), a no-op middleware or hook (what any
// middleware costs the framework), breakwater's guard with a per-client
// limiter, the docs' recipe (per-client limiter, then a bulkhead with a queue and a deadline),
// or the framework's peer (express-rate-limit, @fastify/rate-limit), configured as in
// bench/http.mjs. The server runs under callgrind (`--single-threaded`, young generation pinned
// at 1 MB so that collections depend on bytes allocated alone); this process sends it
// sequential keep-alive requests over loopback (memory reducer off, see below): 5,000 to warm up (JIT), then, between a
// `callgrind_control --zero` and a `--dump`, the 2,000 that are counted. Start-up and shutdown
// are outside the count; two runs of one row agree within about 1 %. (Differencing two whole
// runs instead is not precise: the JIT's work at start-up varies by more than the guard costs.)
// Client and kernel work are not counted (they are the same for every row); wall time is
// bench/http.mjs's job.
//
// --async-context turns Node's async context tracking on in every row (one runWithDeadline at
// start-up), as a deadline anywhere in the process does: every promise then costs more.
//
// Needs valgrind (`apt-get install -y valgrind`); a row takes two to six minutes.
// Usage: npm run bench:http-instructions -- [--only express:bare,fastify:guard]
//          [--route empty|call] [--async-context] [--dist dist] [--json file.json]
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { httpEnvironment } from './lib/env.mjs';

const HERE = fileURLToPath(import.meta.url);
const HOST = '127.0.0.1';
/** A build's module, `dist` relative to the repository (or absolute). */
const built = (dist, file) => pathToFileURL(resolve(fileURLToPath(new URL('..', import.meta.url)), dist, file)).href;
const WARMUP = 5_000;
const COUNTED = 2_000;
const VARIANTS = ['bare', 'noop', 'guard', 'recipe', 'peer'];
const PEERS = { express: 'express-rate-limit', fastify: '@fastify/rate-limit' };

// ---------------------------------------------------------------------------------------------
// The app (child process, under callgrind)

async function serve(dist, framework, variant, asyncContext, downstreamUrl) {
  const bw = await import(built(dist, 'index.js'));
  if (asyncContext) bw.runWithDeadline({ atMs: Infinity, clock: bw.systemClock }, () => {});
  const perClient = () => bw.keyedRateLimiter({ capacity: 1e9, refillPerSecond: 1e9, maxKeys: 10_000, name: 'per-client' });
  const shed = () => bw.bulkhead({ maxConcurrent: 256, maxQueue: 256 });
  const deadline = { deadlineHeader: 'x-request-timeout-ms', deadlineMs: 2_000 };
  const exit = () => setTimeout(() => process.exit(0), 10);
  const stock = async () => (await fetch(downstreamUrl)).json();
  let port;
  if (framework === 'fastify') {
    const { default: Fastify } = await import('fastify');
    const { default: fastifyRateLimit } = await import('@fastify/rate-limit');
    const guard = await import(built(dist, 'fastify.js'));
    const app = Fastify();
    const limiter = perClient();
    const variants = {
      bare: async () => {},
      noop: async (api) => api.addHook('onRequest', (_request, _reply, done) => done()),
      guard: async (api) => api.register(guard.breakwaterGuard, { policy: (request) => limiter.get(request.ip) }),
      recipe: async (api) => {
        await api.register(guard.breakwaterGuard, { policy: (request) => limiter.get(request.ip) });
        await api.register(guard.breakwaterGuard, { policy: shed(), ...deadline });
      },
      peer: async (api) => api.register(fastifyRateLimit, { max: 1e9, timeWindow: 60_000 }),
    };
    await app.register(async (api) => {
      await variants[variant](api);
      api.get('/empty', async () => 'ok');
      api.get('/call', async () => stock());
      api.get('/exit', async () => {
        exit();
        return 'bye';
      });
    });
    await app.listen({ port: 0, host: HOST });
    port = app.server.address().port;
  } else {
    const { default: express } = await import('express');
    const { rateLimit } = await import('express-rate-limit');
    const guard = await import(built(dist, 'express.js'));
    const app = express();
    const limiter = perClient();
    const variants = {
      bare: [],
      noop: [(_req, _res, next) => next()],
      guard: [guard.guard((req) => limiter.get(req.ip ?? ''))],
      recipe: [guard.guard((req) => limiter.get(req.ip ?? '')), guard.guard(shed(), deadline)],
      peer: [rateLimit({ windowMs: 60_000, limit: 1e9, standardHeaders: 'draft-8', legacyHeaders: false })],
    };
    app.get('/exit', (_req, res) => {
      res.send('bye');
      exit();
    });
    if (variants[variant].length > 0) app.use(...variants[variant]);
    app.get('/empty', (_req, res) => res.send('ok'));
    app.get('/call', async (_req, res) => res.json(await stock()));
    const server = http.createServer(app);
    await new Promise((resolve) => server.listen(0, HOST, resolve));
    port = server.address().port;
  }
  console.log(`PORT ${port}`);
}

// ---------------------------------------------------------------------------------------------
// The load and the count (parent process)

/** Sequential keep-alive GETs on one connection; resolves once each response is complete. */
async function client(port) {
  const socket = net.connect(port, HOST);
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let buffered = '';
  const get = (path) =>
    new Promise((resolve, reject) => {
      const onData = (chunk) => {
        buffered += chunk.toString('latin1');
        const head = buffered.indexOf('\r\n\r\n');
        if (head === -1) return;
        const length = Number(/content-length: *(\d+)/i.exec(buffered.slice(0, head))?.[1] ?? 0);
        if (buffered.length < head + 4 + length) return;
        if (!buffered.startsWith('HTTP/1.1 200')) reject(new Error(`unexpected answer: ${buffered.slice(0, 200)}`));
        buffered = buffered.slice(head + 4 + length);
        socket.off('data', onData);
        resolve();
      };
      socket.on('data', onData);
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    });
  return { get, close: () => socket.destroy() };
}

/** Instructions per request of `COUNTED` requests to one app under callgrind, after `WARMUP`. */
async function count(dist, framework, variant, asyncContext, route, downstreamUrl) {
  const dir = mkdtempSync(join(tmpdir(), 'breakwater-http-instructions-'));
  try {
    const child = spawn(
      'valgrind',
      [
        '--tool=callgrind',
        `--callgrind-out-file=${join(dir, 'callgrind.out')}`,
        process.execPath,
        '--single-threaded',
        '--max-semi-space-size=1',
        '--min-semi-space-size=1',
        // Collections the memory reducer starts on a timer: under valgrind a request takes ~50×
        // its wall time, so they would be counted far more often than they run natively.
        '--no-memory-reducer',
        HERE,
        '--serve',
        dist,
        framework,
        variant,
        asyncContext ? 'async-context' : 'plain',
        downstreamUrl,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const port = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk) => {
        out += chunk;
        const match = /PORT (\d+)/.exec(out);
        if (match !== null) resolve(Number(match[1]));
      });
      child.once('error', (error) => reject(new Error(`cannot run valgrind (${error.message}); install it with apt-get install -y valgrind`)));
      child.once('exit', (code) => reject(new Error(`the app exited with ${code} before listening:\n${stderr.slice(-2000)}`)));
    });
    const connection = await client(port);
    for (let i = 0; i < WARMUP; i++) await connection.get(route);
    execFileSync('callgrind_control', ['--zero', String(child.pid)], { stdio: 'ignore' });
    for (let i = 0; i < COUNTED; i++) await connection.get(route);
    execFileSync('callgrind_control', ['--dump', String(child.pid)], { stdio: 'ignore' });
    await connection.get('/exit');
    connection.close();
    await exited;
    // The dump is callgrind.out.1; callgrind.out itself holds the rest of the run.
    const dump = readdirSync(dir).find((name) => name !== 'callgrind.out');
    const totals = dump === undefined ? null : /^(?:summary|totals): (\d+)/m.exec(readFileSync(join(dir, dump), 'utf8'));
    if (totals === null) throw new Error(`callgrind run failed (${framework} ${variant}):\n${stderr.slice(-2000)}`);
    return Number(totals[1]) / COUNTED;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function option(argv, name) {
  const at = argv.indexOf(name);
  return at === -1 ? undefined : argv[at + 1];
}

async function main(argv) {
  const dist = option(argv, '--dist') ?? 'dist';
  const jsonFile = option(argv, '--json');
  const asyncContext = argv.includes('--async-context');
  const all = ['express', 'fastify'].flatMap((framework) => VARIANTS.map((variant) => `${framework}:${variant}`));
  const only = option(argv, '--only')?.split(',') ?? all;
  for (const row of only) if (!all.includes(row)) throw new Error(`unknown row ${row}; rows: ${all.join(', ')}`);
  const route = `/${option(argv, '--route') ?? 'empty'}`;
  if (route !== '/empty' && route !== '/call') throw new Error(`unknown route ${route.slice(1)}; routes: empty, call`);
  // The call route's healthy downstream lives here, outside the count.
  const body = JSON.stringify({ sku: 'sku-1000', inStock: true, quantity: 12 });
  const downstream = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  });
  // Under valgrind a request can take seconds: the default 5 s keep-alive would close the
  // app's pooled connection just as it sends on it (ECONNRESET, a 500 from the route).
  downstream.keepAliveTimeout = 600_000;
  await new Promise((resolve) => downstream.listen(0, HOST, resolve));
  const downstreamUrl = `http://${HOST}:${downstream.address().port}/`;
  const perRequest = {};
  for (const row of only) {
    const [framework, variant] = row.split(':');
    perRequest[row] = await count(dist, framework, variant, asyncContext, route, downstreamUrl);
    console.error(`${row}: ${Math.round(perRequest[row])} instructions per request`);
  }
  const names = {
    bare: () => 'bare',
    noop: (framework) => (framework === 'express' ? 'a middleware that only calls next()' : "an onRequest hook that only calls done()"),
    guard: () => 'breakwater: per-client limiter',
    recipe: () => 'breakwater: recipe (limiter, bulkhead with queue, deadline)',
    peer: (framework) => PEERS[framework],
  };
  const name = (framework, variant) => names[variant](framework);
  console.log(`Instructions per request in the server (callgrind${asyncContext ? ', async context tracking on' : ''}), GET ${route}; Δ over the bare app of the same framework.`);
  console.log('');
  console.log('| framework | in front of the route | instructions per request | Δ over bare |');
  console.log('| --- | --- | ---: | ---: |');
  for (const row of only) {
    const [framework, variant] = row.split(':');
    const bare = perRequest[`${framework}:bare`];
    const delta = bare === undefined || variant === 'bare' ? '—' : `${Math.round(perRequest[row] - bare).toLocaleString('en-US')} (${(((perRequest[row] - bare) / bare) * 100).toFixed(1)} %)`;
    console.log(`| ${framework} | ${name(framework, variant)} | ${Math.round(perRequest[row]).toLocaleString('en-US')} | ${delta} |`);
  }
  downstream.close();
  if (jsonFile !== undefined) writeFileSync(jsonFile, `${JSON.stringify({ environment: httpEnvironment(), route, asyncContext, warmup: WARMUP, requests: COUNTED, perRequest }, null, 2)}\n`);
}

if (process.argv[2] === '--serve') await serve(process.argv[3], process.argv[4], process.argv[5], process.argv[6] === 'async-context', process.argv[7]);
else await main(process.argv.slice(2));
