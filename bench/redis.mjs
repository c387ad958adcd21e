// breakwater/redis against rate-limiter-flexible's RateLimiterRedis, side by side in one run,
// on one local redis-server that this script starts (and stops). For each library and 1, 16
// and 128 concurrent callers: decisions per second, p50/p99 decision latency, and the Redis
// commands each decision sends (counted with MONITOR, which shows client commands apart from
// the ones a script runs).
//
//   npm run bench:redis                      (builds dist/ first)
//   node bench/redis.mjs --rounds 15 --seconds 0.3
//   npm run bench:redis -- --write-docs     (also bench/results/redis.md and docs/benchmarks.md)
//   taskset -c 0 node bench/redis.mjs --pin 1   (the server on CPU 1, this process on CPU 0)
//
// Every decision is granted (buckets far larger than the run): the common path, and keys that
// live on (no key is created or expires on every call, for either library). Rounds are short
// and rotate the order of the libraries, so a noisy neighbour hits all of them alike; each
// figure is the median over rounds.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { redisRateLimiter } from '../dist/redis.js';
import { environment } from './lib/env.mjs';
import { freePort } from './lib/free-port.mjs';
import { writeRedisDocs } from './lib/redis-report.mjs';
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
    pid: child.pid,
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
  // One connection per contender, all with the same ioredis settings: the defaults, and a
  // pair with ioredis's own enableAutoPipelining for both libraries.
  const io = new Redis({ host: '127.0.0.1', port });
  const ioForPeer = new Redis({ host: '127.0.0.1', port });
  const ioAuto = new Redis({ host: '127.0.0.1', port, enableAutoPipelining: true });
  const ioAutoForPeer = new Redis({ host: '127.0.0.1', port, enableAutoPipelining: true });
  const node = createClient({ socket: { host: '127.0.0.1', port } });
  node.on('error', () => {});
  await node.connect();
  await Promise.all([io.ping(), ioForPeer.ping(), ioAuto.ping(), ioAutoForPeer.ping()]);

  // A generous redisTimeoutMs: this measures Redis decisions, and 128 callers on a shared
  // 2-core machine see the odd 100 ms stall (which would hand decisions to the fallback).
  const settings = { capacity: 1e9, refillPerSecond: 1, redisTimeoutMs: 2000 };
  const bwIo = redisRateLimiter({ client: io, ...settings, prefix: 'bw:' });
  const bwNode = redisRateLimiter({ client: node, ...settings, prefix: 'bwn:' });
  const bwAuto = redisRateLimiter({ client: ioAuto, ...settings, prefix: 'bwa:' });
  const outages = [];
  for (const [name, limiter] of [['ioredis', bwIo], ['node-redis', bwNode], ['ioredis auto-pipelining', bwAuto]]) {
    limiter.on('unavailable', (event) => outages.push(`${name}: ${event.reason} ${event.error?.message ?? ''}`));
  }
  const rlf = new RateLimiterRedis({ storeClient: ioForPeer, points: 1e9, duration: 3600, keyPrefix: 'rlflx' });
  const rlfAuto = new RateLimiterRedis({ storeClient: ioAutoForPeer, points: 1e9, duration: 3600, keyPrefix: 'rlfa' });
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
      {
        id: 'breakwater-auto',
        label: 'breakwater redisRateLimiter.tryAcquire (ioredis, enableAutoPipelining)',
        decide: (key) => bwAuto.tryAcquire(key),
      },
      {
        id: 'rlf-auto',
        label: 'rate-limiter-flexible RateLimiterRedis.consume (ioredis, enableAutoPipelining)',
        decide: (key) => rlfAuto.consume(key),
      },
    ],
    check() {
      // Every decision the bench made was Redis's: a fallback would make the numbers meaningless.
      for (const limiter of [bwIo, bwNode, bwAuto]) {
        if (limiter.stats.fallbacks !== 0) {
          throw new Error(`breakwater fell back ${limiter.stats.fallbacks} times; outages: ${outages.slice(0, 5).join('; ')}`);
        }
      }
    },
    async close() {
      for (const client of [io, ioForPeer, ioAuto, ioAutoForPeer]) client.disconnect();
      await node.quit();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Measurement

/**
 * CPU time the redis-server process has used, in ns (Linux: /proc/<pid>/schedstat, which
 * counts what the process ran, not the time it waited for a core): its scripts, its
 * networking and its event loop. NaN elsewhere.
 */
function serverCpuNs(pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
  } catch {
    return NaN;
  }
}

/**
 * `callers` loops, back to back, for `seconds`: decisions/s, per-decision latency, and what
 * each decision cost in CPU: in this process (all of Node: the library, the client, the event
 * loop) and inside Redis (the server's own time for the scripts, INFO commandstats), and the
 * reads from client sockets Redis made per decision (INFO stats total_reads_processed): 1 when
 * every command comes in a write of its own, less when commands share one.
 */
async function measure(decide, callers, seconds, { admin, pid }) {
  await admin.config('RESETSTAT');
  const serverCpuBefore = serverCpuNs(pid);
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
  const serverCpuUs = (serverCpuNs(pid) - serverCpuBefore) / 1000;
  const reads = Number(/total_reads_processed:(\d+)/.exec(await admin.info('stats'))?.[1]);
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
    readsPerDecision: reads / decisions,
    serverCpuUs: serverCpuUs / decisions,
    totalCpuUs: (cpu.user + cpu.system + serverCpuUs) / decisions,
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

/** The report: printed as it goes, and kept for --write-docs. */
const report = [];
function say(line) {
  report.push(line);
  console.log(line);
}

const server = await startServer();
const contestants = await contenders(server.port);
try {
  const env = environment();
  say(`## breakwater/redis vs rate-limiter-flexible\n`);
  say('<!-- Generated by bench/redis.mjs (`npm run bench:redis -- --write-docs`) into bench/results/redis.md; bench/run.mjs renders it again. -->\n');
  say(`${env.date} · ${env.cpu}, ${env.cores} cores · Node ${env.node} · redis-server ${server.version} on 127.0.0.1 · load average at the start ${loadavg()[0].toFixed(1)}`);
  say(`breakwater ${env.breakwater} · rate-limiter-flexible ${env.packages['rate-limiter-flexible']} · ${ROUNDS} rounds × ${SECONDS} s per row, medians\n`);

  // Warm up: scripts loaded, connections and JIT warm.
  for (const c of contestants.list) await measure(c.decide, 16, 0.3, server);

  const results = new Map();
  for (const callers of CONCURRENCY) {
    for (let round = 0; round < ROUNDS; round++) {
      const n = contestants.list.length;
      const order = contestants.list.map((_, i) => contestants.list[(i + round) % n]);
      for (const c of order) {
        const r = await measure(c.decide, callers, SECONDS, server);
        const key = `${c.id}@${callers}`;
        if (!results.has(key)) results.set(key, []);
        results.get(key).push(r);
      }
    }
  }
  const trips = new Map();
  for (const c of contestants.list) trips.set(c.id, await commandsPerDecision(server.port, c.decide, 2000));
  contestants.check();

  say(
    '| library | callers | decisions/s | p50 ms | p99 ms | Node CPU µs / decision | Redis CPU µs / decision (scripts) | CPU µs / decision, both | Redis socket reads / decision | commands sent per decision |',
  );
  say('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
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
        readsPerDecision: median(rounds.map((r) => r.readsPerDecision)),
        serverCpuUs: median(rounds.map((r) => r.serverCpuUs)),
        totalCpuUs: median(rounds.map((r) => r.totalCpuUs)),
      };
      summary[`${c.id}@${callers}`] = row;
      const t = trips.get(c.id);
      const sent = Object.entries(t.commands).map(([name, n]) => `${n} ${name}`).join(' + ');
      say(
        `| ${c.label} | ${callers} | ${format(row.perSecond)} | ${format(row.p50, 3)} | ${format(row.p99, 3)} | ` +
          `${format(row.clientCpuUs, 1)} | ${format(row.serverCpuUs, 1)} (${format(row.serverUs, 1)}) | ${format(row.totalCpuUs, 1)} | ${format(row.readsPerDecision, 2)} | ${format(t.perDecision, 2)} (${sent}) |`,
      );
    }
  }
  say('');
  for (const c of contestants.list) {
    const t = trips.get(c.id);
    say(`- ${c.id}: ${format(t.perDecision, 3)} command(s) sent per decision; its script runs ${format(t.scriptCommandsPerDecision, 2)} commands inside Redis`);
  }

  // Ratios to rate-limiter-flexible on the same client settings: the median over rounds of
  // each round's ratio (the two ran in the same round, so a noisy neighbour hits both).
  const pairedRatio = (a, b, callers) => {
    const ra = results.get(`${a}@${callers}`);
    const rb = results.get(`${b}@${callers}`);
    return median(ra.map((r, i) => r.perSecond / rb[i].perSecond));
  };
  say('\n| breakwater ÷ rate-limiter-flexible, decisions/s | ' + CONCURRENCY.map((c) => `${c} callers`).join(' | ') + ' |');
  say('| --- | ' + CONCURRENCY.map(() => '---:').join(' | ') + ' |');
  for (const [label, a, b] of [
    ['ioredis defaults', 'breakwater', 'rlf'],
    ['ioredis enableAutoPipelining (both)', 'breakwater-auto', 'rlf-auto'],
  ]) {
    say(`| ${label} | ${CONCURRENCY.map((c) => `${format(pairedRatio(a, b, c) * 100, 0)} %`).join(' | ')} |`);
  }

  const ours = summary['breakwater@16'];
  const theirs = summary['rlf@16'];
  const oneTrip = trips.get('breakwater').perDecision <= 1.001;
  const faster = ours.perSecond >= theirs.perSecond;
  say(
    `\ntarget (16 callers: ≥ rate-limiter-flexible's decisions/s with one round trip per decision): ` +
      `${format(ours.perSecond)} vs ${format(theirs.perSecond)} decisions/s (medians; paired ratio ${format(pairedRatio('breakwater', 'rlf', 16) * 100, 1)} %), ` +
      `${format(trips.get('breakwater').perDecision, 3)} commands per decision → ${faster && oneTrip ? 'pass' : 'MISS'} in this run`,
  );
  say(`\nload average at the end: ${loadavg()[0].toFixed(1)} (2 cores: above 2, every figure above includes waiting for a core)`);
  if (process.argv.includes('--write-docs')) writeRedisDocs(report.join('\n'));
  if (process.argv.includes('--json')) console.log(JSON.stringify({ summary, trips: Object.fromEntries(trips) }));
} finally {
  await contestants.close();
  await server.stop();
}
