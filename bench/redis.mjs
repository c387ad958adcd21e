// breakwater/redis against rate-limiter-flexible's RateLimiterRedis, side by side in one run,
// on one local redis-server that this script starts (and stops). For each library and 1, 16
// and 128 concurrent callers: decisions per second, p50/p99 decision latency, and the Redis
// commands each decision sends (counted with MONITOR, which shows client commands apart from
// the ones a script runs).
//
//   npm run bench:redis                      (builds dist/ first)
//   node bench/redis.mjs --rounds 15 --seconds 0.3
//   taskset -c 0 node bench/redis.mjs --pin 1   (the server on CPU 1, this process on CPU 0)
//
// Every decision is granted (buckets far larger than the run): the common path, and keys that
// live on (no key is created or expires on every call, for either library). Rounds are short
// and rotate the order of the libraries, so a noisy neighbour hits all of them alike; each
// figure is the median over rounds.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { redisRateLimiter } from '../dist/redis.js';
import { environment } from './lib/env.mjs';
import { median } from './lib/stats.mjs';

const require = createRequire(import.meta.url);
const { RateLimiterRedis } = require('rate-limiter-flexible');

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
}
const ROUNDS = option('rounds', 15);
const SECONDS = option('seconds', 0.3);
const CONCURRENCY = [1, 16, 128];
const KEYS = 64;

// ---------------------------------------------------------------------------------------------
// The server

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

async function startServer() {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'breakwater-bench-redis-'));
  const serverArgs = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  // --pin <cpu>: run the server on that CPU only (taskset), apart from this process.
  const pin = process.argv.indexOf('--pin');
  const child =
    pin === -1
      ? spawn('redis-server', serverArgs, { stdio: 'ignore' })
      : spawn('taskset', ['-c', process.argv[pin + 1], 'redis-server', ...serverArgs], { stdio: 'ignore' });
  child.on('error', (error) => {
    console.error(`cannot start redis-server (${error.message}); install it: apt-get install -y redis-server`);
    process.exit(1);
  });
  let admin;
  for (let i = 0; ; i++) {
    admin = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null });
    admin.on('error', () => {});
    try {
      await admin.connect();
      if ((await admin.ping()) === 'PONG') break;
    } catch {
      admin.disconnect();
      if (i > 200) throw new Error('redis-server did not start');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  const version = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1];
  return {
    port,
    admin,
    version,
    async stop() {
      admin.disconnect();
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The contenders: each is a function key → Promise of one decision

async function contenders(port) {
  const io = new Redis({ host: '127.0.0.1', port });
  const ioForPeer = new Redis({ host: '127.0.0.1', port });
  const node = createClient({ socket: { host: '127.0.0.1', port } });
  node.on('error', () => {});
  await node.connect();
  await Promise.all([io.ping(), ioForPeer.ping()]);

  // A generous redisTimeoutMs: this measures Redis decisions, and 128 callers on a shared
  // 2-core machine see the odd 100 ms stall (which would hand decisions to the fallback).
  const settings = { capacity: 1e9, refillPerSecond: 1, redisTimeoutMs: 2000 };
  const bwIo = redisRateLimiter({ client: io, ...settings, prefix: 'bw:' });
  const bwNode = redisRateLimiter({ client: node, ...settings, prefix: 'bwn:' });
  const outages = [];
  for (const [name, limiter] of [['ioredis', bwIo], ['node-redis', bwNode]]) {
    limiter.on('unavailable', (event) => outages.push(`${name}: ${event.reason} ${event.error?.message ?? ''}`));
  }
  const rlf = new RateLimiterRedis({ storeClient: ioForPeer, points: 1e9, duration: 3600, keyPrefix: 'rlflx' });
  return {
    list: [
      { id: 'breakwater', label: 'breakwater redisRateLimiter.tryAcquire (ioredis)', decide: (key) => bwIo.tryAcquire(key) },
      { id: 'rlf', label: 'rate-limiter-flexible RateLimiterRedis.consume (ioredis)', decide: (key) => rlf.consume(key) },
      {
        id: 'breakwater-policy',
        label: 'breakwater redisRateLimiter.get(key).execute(fn) (ioredis)',
        decide: (key) => bwIo.get(key).execute(() => undefined),
      },
      { id: 'breakwater-node-redis', label: 'breakwater redisRateLimiter.tryAcquire (node-redis)', decide: (key) => bwNode.tryAcquire(key) },
    ],
    check() {
      // Every decision the bench made was Redis's: a fallback would make the numbers meaningless.
      for (const limiter of [bwIo, bwNode]) {
        if (limiter.stats.fallbacks !== 0) {
          throw new Error(`breakwater fell back ${limiter.stats.fallbacks} times; outages: ${outages.slice(0, 5).join('; ')}`);
        }
      }
    },
    async close() {
      io.disconnect();
      ioForPeer.disconnect();
      await node.quit();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Measurement

/**
 * `callers` loops, back to back, for `seconds`: decisions/s, per-decision latency, and what
 * each decision cost in CPU: in this process (all of Node: the library, the client, the event
 * loop) and inside Redis (the server's own time for the scripts, INFO commandstats).
 */
async function measure(decide, callers, seconds, admin) {
  await admin.config('RESETSTAT');
  const latencies = [];
  const endAt = performance.now() + seconds * 1000;
  let decisions = 0;
  const cpuBefore = process.cpuUsage();
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      const local = [];
      let i = caller;
      while (performance.now() < endAt) {
        const t0 = performance.now();
        await decide(`k${i++ % KEYS}`);
        local.push(performance.now() - t0);
      }
      decisions += local.length;
      latencies.push(local);
    }),
  );
  const elapsedMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuBefore);
  const stats = await admin.info('commandstats');
  let serverUs = 0;
  for (const match of stats.matchAll(/^cmdstat_(evalsha|eval):calls=\d+,usec=(\d+)/gm)) serverUs += Number(match[2]);
  const all = Float64Array.from(latencies.flat()).sort();
  const at = (q) => all[Math.min(all.length - 1, Math.floor(q * all.length))];
  return {
    perSecond: (decisions * 1000) / elapsedMs,
    p50: at(0.5),
    p99: at(0.99),
    clientCpuUs: (cpu.user + cpu.system) / decisions,
    serverUs: serverUs / decisions,
  };
}

/** Commands the clients send per decision: MONITOR lists them (and, apart, the script's own). */
async function commandsPerDecision(port, decide, decisions) {
  const base = new Redis({ host: '127.0.0.1', port });
  const monitor = await base.monitor();
  let sent = 0;
  let byScripts = 0;
  const names = new Map();
  monitor.on('monitor', (_time, args, source) => {
    if (source === 'lua') {
      byScripts++;
      return;
    }
    sent++;
    const name = String(args[0]).toLowerCase();
    names.set(name, (names.get(name) ?? 0) + 1);
  });
  // MONITOR shows a command once the server ran it; a PING on the monitor's heels would be
  // counted too, so run the decisions, then wait for the stream to catch up.
  for (let i = 0; i < decisions; i += 16) {
    await Promise.all(Array.from({ length: 16 }, (_, j) => decide(`k${(i + j) % KEYS}`)));
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  monitor.disconnect();
  base.disconnect();
  return {
    perDecision: sent / decisions,
    scriptCommandsPerDecision: byScripts / decisions,
    commands: Object.fromEntries([...names].map(([name, count]) => [name, +(count / decisions).toFixed(3)])),
  };
}

// ---------------------------------------------------------------------------------------------

const format = (n, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const server = await startServer();
const contestants = await contenders(server.port);
try {
  const env = environment();
  console.log(`# breakwater/redis benchmark\n`);
  console.log(`${env.date} · ${env.cpu}, ${env.cores} cores · Node ${env.node} · redis-server ${server.version} on 127.0.0.1`);
  console.log(`breakwater ${env.breakwater} · rate-limiter-flexible ${env.packages['rate-limiter-flexible']} · ${ROUNDS} rounds × ${SECONDS} s per row, medians\n`);

  // Warm up: scripts loaded, connections and JIT warm.
  for (const c of contestants.list) await measure(c.decide, 16, 0.3, server.admin);

  const results = new Map();
  for (const callers of CONCURRENCY) {
    for (let round = 0; round < ROUNDS; round++) {
      const n = contestants.list.length;
      const order = contestants.list.map((_, i) => contestants.list[(i + round) % n]);
      for (const c of order) {
        const r = await measure(c.decide, callers, SECONDS, server.admin);
        const key = `${c.id}@${callers}`;
        if (!results.has(key)) results.set(key, []);
        results.get(key).push(r);
      }
    }
  }
  const trips = new Map();
  for (const c of contestants.list) trips.set(c.id, await commandsPerDecision(server.port, c.decide, 2000));
  contestants.check();

  console.log('| library | callers | decisions/s | p50 ms | p99 ms | Node CPU µs / decision | Redis µs / decision | commands sent per decision |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  const summary = {};
  for (const c of contestants.list) {
    for (const callers of CONCURRENCY) {
      const rounds = results.get(`${c.id}@${callers}`);
      const row = {
        perSecond: median(rounds.map((r) => r.perSecond)),
        p50: median(rounds.map((r) => r.p50)),
        p99: median(rounds.map((r) => r.p99)),
        clientCpuUs: median(rounds.map((r) => r.clientCpuUs)),
        serverUs: median(rounds.map((r) => r.serverUs)),
      };
      summary[`${c.id}@${callers}`] = row;
      const t = trips.get(c.id);
      const sent = Object.entries(t.commands).map(([name, n]) => `${n} ${name}`).join(' + ');
      console.log(
        `| ${c.label} | ${callers} | ${format(row.perSecond)} | ${format(row.p50, 3)} | ${format(row.p99, 3)} | ` +
          `${format(row.clientCpuUs, 1)} | ${format(row.serverUs, 1)} | ${format(t.perDecision, 2)} (${sent}) |`,
      );
    }
  }
  console.log('');
  for (const c of contestants.list) {
    const t = trips.get(c.id);
    console.log(`${c.id}: ${format(t.perDecision, 3)} command(s) sent per decision; its script runs ${format(t.scriptCommandsPerDecision, 2)} commands inside Redis`);
  }

  const ours = summary['breakwater@16'];
  const theirs = summary['rlf@16'];
  const oneTrip = trips.get('breakwater').perDecision <= 1.001;
  const faster = ours.perSecond >= theirs.perSecond;
  console.log(
    `\ntarget (16 callers: ≥ rate-limiter-flexible's decisions/s with one round trip per decision): ` +
      `${format(ours.perSecond)} vs ${format(theirs.perSecond)} decisions/s (${format((ours.perSecond / theirs.perSecond) * 100, 1)} %), ` +
      `${format(trips.get('breakwater').perDecision, 3)} commands per decision → ${faster && oneTrip ? 'pass' : 'MISS'}`,
  );
  if (process.argv.includes('--json')) console.log(JSON.stringify({ summary, trips: Object.fromEntries(trips) }));
} finally {
  await contestants.close();
  await server.stop();
}
