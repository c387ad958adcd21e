// One process of the fleet test: hammers one shared key through its own client until the
// agreed end time, then prints what it was granted. Run by fleet.test.ts, never on its own.
import { Redis } from 'ioredis';
import { pathToFileURL } from 'node:url';

const [bundle, port, prefix, capacity, refillPerSecond, concurrency] = process.argv.slice(2);
const { redisRateLimiter } = await import(pathToFileURL(bundle).href);
const client = new Redis({ host: '127.0.0.1', port: Number(port) });
client.on('error', () => {});
await new Promise((resolve) => client.once('ready', resolve));
// No clock: the Redis server's TIME is the one clock of the fleet.
const limiter = redisRateLimiter({
  client,
  capacity: Number(capacity),
  refillPerSecond: Number(refillPerSecond),
  prefix,
  redisTimeoutMs: 1000,
});
const wallNow = () => performance.timeOrigin + performance.now();
// Connected: say so, then wait for the common start and end times (one line on stdin).
console.log('ready');
const [startAt, endAt] = await new Promise((resolve) => {
  let line = '';
  process.stdin.on('data', (chunk) => {
    line += chunk;
    if (line.includes('\n')) {
      process.stdin.pause();
      resolve(line.trim().split(' ').map(Number));
    }
  });
});
while (wallNow() < startAt) await new Promise((resolve) => setTimeout(resolve, 1));
let grants = 0;
let refusals = 0;
let firstSendAt = Infinity;
let lastReplyAt = -Infinity;
await Promise.all(
  Array.from({ length: Number(concurrency) }, async () => {
    while (wallNow() < endAt) {
      const sentAt = wallNow();
      if (sentAt < firstSendAt) firstSendAt = sentAt;
      if (await limiter.tryAcquire('shared')) grants++;
      else refusals++;
      lastReplyAt = Math.max(lastReplyAt, wallNow());
    }
  }),
);
console.log(JSON.stringify({ grants, refusals, fallbacks: limiter.stats.fallbacks, firstSendAt, lastReplyAt }));
client.disconnect();
