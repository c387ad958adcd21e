// Instructions per decision inside redis-server, counted exactly: redis-server runs under
// valgrind's callgrind, which counts only inside `evalShaCommand` (the script and the commands
// it runs, and the writing of its reply; not the network or the parsing of the request). Counts do
// not depend on the machine's load, unlike decisions per second.
//
//   node bench/redis-callgrind.mjs [--calls 2000] [--only breakwater,rlf,empty,...]
//   node bench/redis-callgrind.mjs --lua part.lua [--args 1,2]
//
// Each script runs on a server of its own: `--calls` EVALSHA one after another, every one a
// grant (breakwater-refusals: a refusal after the first grant of each key), round-robin over
// 64 keys that stay live. Needs valgrind and redis-server on PATH.
// The breakwater script is read from src/redis/script.ts (its types erased by TypeScript's
// transpileModule), so the count is of the working tree, not of dist/.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import ts from 'typescript';
import { freePort } from './lib/free-port.mjs';

function option(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : process.argv[at + 1];
}
const CALLS = Number(option('calls', 2000));
const KEYS = 64;

async function breakwaterScript(capacity, refillPerSecond) {
  const source = readFileSync(new URL('../src/redis/script.ts', import.meta.url), 'utf8');
  const code = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const module = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
  return module.tokenBucketScript(capacity, refillPerSecond).lua;
}

// rate-limiter-flexible 11's RateLimiterRedis script (lib/RateLimiterRedis.js), verbatim.
const RLF = `redis.call('set', KEYS[1], 0, 'EX', ARGV[2], 'NX') \
local consumed = redis.call('incrby', KEYS[1], ARGV[1]) \
local ttl = redis.call('pttl', KEYS[1]) \
if ttl == -1 then \
  redis.call('expire', KEYS[1], ARGV[2]) \
  ttl = 1000 * ARGV[2] \
end \
return {consumed, ttl} \
`;

const bw = await breakwaterScript(1_000_000, 1000);
// One token per 1000 s: after each key's first grant, every call is refused.
const bwRefusing = await breakwaterScript(1, 0.001);
// tokens, maxWaitMs[, now] (absent: Redis TIME); capacity 1 000 000 and 1000 per second, in
// the script's text: buckets far larger than the run.
const BW_ARGS = () => ['1', '0'];
let clientNow = 1_764_583_212_345.25;
const SCRIPTS = {
  empty: { lua: 'return 1', args: () => [] },
  rlf: { lua: RLF, args: () => ['1', '3600', '1000000', '3600'] },
  breakwater: { lua: bw, args: BW_ARGS },
  'breakwater-client-clock': { lua: bw, args: () => ['1', '0', String((clientNow += 0.37))] },
  'breakwater-refusals': { lua: bwRefusing, args: BW_ARGS, refusals: true },
};

async function count(name, { lua, args, refusals = false }) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'breakwater-callgrind-'));
  const out = join(dir, 'callgrind.out');
  const server = spawn(
    'valgrind',
    ['--tool=callgrind', '--toggle-collect=evalShaCommand', `--callgrind-out-file=${out}`,
      'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => server.on('exit', resolve));
  // Offline queue on, retries forever: the first command waits until valgrind's server listens.
  const redis = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 200, maxRetriesPerRequest: null });
  redis.on('error', () => {});
  await redis.ping();
  const sha = await redis.script('LOAD', lua);
  for (let i = 0; i < CALLS; i++) {
    const reply = await redis.evalsha(sha, 1, `k${i % KEYS}`, ...args());
    const granted = typeof reply === 'number' ? reply >= 0 : Array.isArray(reply) && reply[0] === 1;
    if (name.startsWith('breakwater') && granted !== (!refusals || i < KEYS)) throw new Error(`unexpected reply ${reply} to call ${i}`);
  }
  redis.disconnect();
  server.kill('SIGTERM'); // redis-server shuts down (nothing to save), then valgrind writes its counts
  await exited;
  const text = readFileSync(out, 'utf8');
  const totals = /^(?:summary|totals):\s*(\d+)/m.exec(text);
  if (process.argv.includes('--keep')) console.log(`kept ${out}`);
  else rmSync(dir, { recursive: true, force: true });
  return Number(totals[1]) / CALLS;
}

// --lua file.lua [--args a,b,c]: count another script instead (to weigh a part of one).
if (option('lua', undefined) !== undefined) {
  const extra = option('args', '');
  SCRIPTS[option('lua')] = { lua: readFileSync(option('lua'), 'utf8'), args: () => (extra === '' ? [] : extra.split(',')) };
}
const only = option('lua', undefined) !== undefined ? [option('lua')] : option('only', Object.keys(SCRIPTS).join(',')).split(',');
for (const name of only) {
  const perCall = await count(name, SCRIPTS[name]);
  console.log(`${name.padEnd(24)} ${Math.round(perCall).toLocaleString('en-US').padStart(8)} instructions per call`);
}
