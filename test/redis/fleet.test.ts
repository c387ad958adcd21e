// Four Node processes share one key through one redis-server for ~2 s, as a fleet would. In
// any window of t ms at most capacity + rate·t/1000 tokens may be granted over all of them,
// and the limiter must not be much stricter than that either.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeRedis, RedisServer } from './server.js';

const here = fileURLToPath(new URL('.', import.meta.url));

interface ChildReport {
  grants: number;
  refusals: number;
  fallbacks: number;
  firstSendAt: number;
  lastReplyAt: number;
}

interface Child {
  /** Resolves once the child is connected to Redis. */
  readonly ready: Promise<void>;
  readonly report: Promise<ChildReport>;
  start(startAt: number, endAt: number): void;
}

function spawnChild(args: string[]): Child {
  const child = spawn(process.execPath, [join(here, 'fleet-child.mjs'), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    if (out.startsWith('ready\n')) markReady();
  });
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const report = new Promise<ChildReport>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out.slice('ready\n'.length)) as ChildReport);
      else reject(new Error(`fleet child exited with ${code}:\n${err}`));
    });
  });
  return { ready, report, start: (startAt, endAt) => child.stdin.end(`${startAt} ${endAt}\n`) };
}

describeRedis('a fleet of processes shares one bucket', () => {
  let server: RedisServer;
  let dir: string;
  let bundle: string;
  beforeAll(async () => {
    server = await RedisServer.start();
    // The children load the limiter from the sources of this checkout, not from a stale dist/.
    dir = mkdtempSync(join(tmpdir(), 'breakwater-fleet-'));
    bundle = join(dir, 'redis.mjs');
    await build({
      entryPoints: [join(here, '../../src/redis/index.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: bundle,
      logLevel: 'silent',
    });
  }, 30_000);
  afterAll(async () => {
    await server?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('4 processes × 8 callers for 2 s: total grants ≤ capacity + rate·t/1000, and within 10 % of it', async () => {
    // A burst of 100 covers 0.5 s of refill: a machine that stalls every process for a moment
    // (2 shared cores) loses no tokens to a full bucket.
    const capacity = 100;
    const refillPerSecond = 200;
    const args = [bundle, String(server.port), 'fleet:', String(capacity), String(refillPerSecond), '8'];
    const children = [0, 1, 2, 3].map(() => spawnChild(args));
    await Promise.all(children.map((child) => child.ready));
    const startAt = performance.timeOrigin + performance.now() + 50;
    for (const child of children) child.start(startAt, startAt + 2000);
    const reports = await Promise.all(children.map((child) => child.report));
    const grants = reports.reduce((sum, r) => sum + r.grants, 0);
    const refusals = reports.reduce((sum, r) => sum + r.refusals, 0);
    // Every grant happened on the server between the first request sent and the last answer
    // received: that span bounds the window the grants fall in.
    const spanMs = Math.max(...reports.map((r) => r.lastReplyAt)) - Math.min(...reports.map((r) => r.firstSendAt));
    const bound = capacity + (refillPerSecond * spanMs) / 1000;
    console.log(`fleet: ${grants} grants, ${refusals} refusals in ${spanMs.toFixed(1)} ms; bound ${bound.toFixed(1)}; per process ${reports.map((r) => r.grants).join(', ')}`);
    expect(reports.every((r) => r.fallbacks === 0)).toBe(true);
    // The bucket was contended the whole time (many more asks than tokens) ...
    expect(refusals).toBeGreaterThan(grants);
    // ... every process got a share ...
    expect(reports.every((r) => r.grants > 0)).toBe(true);
    // ... never more than the bucket allows, and not much less.
    expect(grants).toBeLessThanOrEqual(bound);
    expect(grants).toBeGreaterThanOrEqual(0.9 * bound);
  }, 30_000);
});
