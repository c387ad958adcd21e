// The Lua copy of the token-bucket rule, run inside a real redis-server, against the TypeScript
// rule: the cases of test/rate-limit/bucket-rule.test.ts, then random inputs, bit for bit; and
// the script's common path, where the rule is written out in place, on random buckets.
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  bucketAvailable,
  bucketFull,
  bucketHas,
  bucketRetryAfterMs,
  bucketTokens,
  levelAfterTake,
} from '../../src/rate-limit/bucket-rule.js';
import { BUCKET_RULE_LUA, tokenBucketScript } from '../../src/redis/script.js';
import { describeRedis, RedisServer } from './server.js';

/** Every function of the rule at one point, as `%.17g` strings (which round-trip a double). */
const HARNESS = `
local capacity = tonumber(ARGV[1])
local refillPerSecond = tonumber(ARGV[2])
${BUCKET_RULE_LUA}
local level, at, t, n = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local now, offset = tonumber(ARGV[7]), tonumber(ARGV[8])
local function num(x) return string.format('%.17g', x) end
local function bool(b) if b then return 'true' else return 'false' end end
return {
  num(bucketTokens(level, at, t)),
  bool(bucketHas(level, at, t, n)),
  num(levelAfterTake(level, at, t, n)),
  bool(bucketFull(level, at, t)),
  num(bucketAvailable(level, at, t)),
  num(bucketRetryAfterMs(level, at, n, now, offset)),
}
`;

interface Point {
  capacity: number;
  rate: number;
  level: number;
  at: number;
  t: number;
  n: number;
  now?: number;
  offset?: number;
}

interface Answers {
  tokens: number;
  has: boolean;
  levelAfterTake: number;
  full: boolean;
  available: number;
  retryAfterMs: number;
}

function parse(value: string): number | boolean {
  if (value === 'true' || value === 'false') return value === 'true';
  if (value === 'inf') return Infinity;
  if (value === '-inf') return -Infinity;
  return Number(value);
}

function typescript(p: Point): Answers {
  const perMs = p.rate / 1000;
  const now = p.now ?? p.t;
  const offset = p.offset ?? 0;
  return {
    tokens: bucketTokens(p.level, p.at, p.t, perMs),
    has: bucketHas(p.level, p.at, p.t, p.n, perMs),
    levelAfterTake: levelAfterTake(p.level, p.at, p.t, p.n, p.capacity, perMs),
    full: bucketFull(p.level, p.at, p.t, p.capacity, perMs),
    available: bucketAvailable(p.level, p.at, p.t, p.capacity, perMs),
    retryAfterMs: bucketRetryAfterMs(p.level, p.at, p.n, now, offset, perMs, 1000 / p.rate),
  };
}

describeRedis('the Lua token-bucket rule', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await RedisServer.start();
  }, 30_000);
  afterAll(async () => {
    await server?.close();
  });

  async function lua(p: Point): Promise<Answers> {
    const args = [p.capacity, p.rate, p.level, p.at, p.t, p.n, p.now ?? p.t, p.offset ?? 0].map(String);
    const reply = (await server.command('EVAL', HARNESS, '0', ...args)) as string[];
    const [tokens, has, after, full, available, retryAfterMs] = reply.map(parse);
    return {
      tokens: tokens as number,
      has: has as boolean,
      levelAfterTake: after as number,
      full: full as boolean,
      available: available as number,
      retryAfterMs: retryAfterMs as number,
    };
  }

  it('the cases of the TypeScript rule (bucket-rule.test.ts), answered in Lua', async () => {
    // A never-used bucket (capacity, −∞) is full and grants up to capacity.
    const fresh = await lua({ capacity: 2, rate: 7, level: 2, at: -Infinity, t: 115, n: 1 });
    expect(fresh).toMatchObject({ tokens: Infinity, full: true, has: true, levelAfterTake: 1, available: 2 });
    expect((await lua({ capacity: 2, rate: 7, level: 2, at: -Infinity, t: 115, n: 2 })).has).toBe(true);

    // Capacity 2, rate 7, 115 ms in: two immediate grants, then none; the next token at 258 ms.
    const once = await lua({ capacity: 2, rate: 7, level: 2, at: -Infinity, t: 115, n: 1 });
    const second = await lua({ capacity: 2, rate: 7, level: once.levelAfterTake, at: 115, t: 115, n: 1 });
    expect(second).toMatchObject({ has: true, levelAfterTake: 0 });
    const empty = await lua({ capacity: 2, rate: 7, level: 0, at: 115, t: 115, n: 1 });
    expect(empty).toMatchObject({ has: false, available: 0, retryAfterMs: 143 });
    expect((await lua({ capacity: 2, rate: 7, level: 0, at: 115, t: 257, n: 1 })).has).toBe(false);
    expect((await lua({ capacity: 2, rate: 7, level: 0, at: 115, t: 258, n: 1 })).has).toBe(true);

    // Capacity 3, rate 0.3, drained: 3 tokens exactly 10 s later (2.9999999999999996 computed).
    const tenSeconds = await lua({ capacity: 3, rate: 0.3, level: 0, at: 0, t: 10_000, n: 3, now: 0 });
    expect(tenSeconds.tokens).toBeLessThan(3);
    expect(tenSeconds).toMatchObject({ has: true, available: 3, retryAfterMs: 10_000, full: false });
    expect(tenSeconds.levelAfterTake).toBeLessThanOrEqual(0);
    expect(tenSeconds.levelAfterTake).toBeGreaterThanOrEqual(-3 * 2 ** -36);
    expect(await lua({ capacity: 3, rate: 0.3, level: 0, at: 0, t: 9_999, n: 3 })).toMatchObject({ has: false, available: 2 });
    expect((await lua({ capacity: 3, rate: 0.3, level: 0, at: 0, t: 10_001, n: 3 })).full).toBe(true);

    // The tolerance is n·2^-36.
    const short = async (by: number) => (await lua({ capacity: 1, rate: 1000, level: 1 - by, at: 0, t: 0, n: 1 })).has;
    expect(await short(2 ** -37)).toBe(true);
    expect(await short(2 ** -36)).toBe(true);
    expect(await short(2 ** -35)).toBe(false);
    expect(await short(1e-9)).toBe(false);

    // At Date.now() magnitudes, and with a backward-jump offset.
    const at = 1.7e12 + 0.25;
    expect((await lua({ capacity: 1, rate: 10, level: 0, at, t: at + 99, n: 1 })).has).toBe(false);
    expect((await lua({ capacity: 1, rate: 10, level: 0, at, t: at + 100, n: 1 })).has).toBe(true);
    expect((await lua({ capacity: 1, rate: 10, level: 0, at, t: at, n: 1, now: at })).retryAfterMs).toBe(100);
    expect((await lua({ capacity: 1, rate: 10, level: 0, at, t: at, n: 1, now: at - 5000, offset: 5000 })).retryAfterMs).toBe(100);

    // Uncapped accrual for waiters asking for more than capacity in total.
    expect((await lua({ capacity: 2, rate: 1, level: 0, at: 0, t: 0, n: 3, now: 0 })).retryAfterMs).toBe(3000);
    expect((await lua({ capacity: 2, rate: 1, level: 0, at: 0, t: 0, n: 3, now: 1000.5 })).retryAfterMs).toBe(2000);

    // A clock reading before `at` earns nothing.
    expect((await lua({ capacity: 2, rate: 7, level: 0.5, at: 100, t: 40, n: 1 })).tokens).toBe(0.5);
    expect((await lua({ capacity: 2, rate: 7, level: 0.5, at: 100, t: 100, n: 1 })).tokens).toBe(0.5);
  });

  // Random buckets for both bit-for-bit properties: capacity, rate, level as a fraction of the
  // capacity (or a hair below 0), the time of the last grant, the time since it, tokens asked.
  const bucketArbitraries = [
    fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constantFrom(1.5, 2.75, 1e6)),
    fc.constantFrom(1, 3, 7, 0.3, 1 / 3, 1000 / 7, 2.5, 50, 999, 2500, 0.001),
    fc.double({ min: -1e-9, max: 1, noNaN: true }),
    fc.oneof(fc.double({ min: 0, max: 1e4, noNaN: true }), fc.double({ min: 1.6e12, max: 1.8e12, noNaN: true })),
    fc.oneof(fc.constant(0), fc.double({ min: 0, max: 5000, noNaN: true }), fc.integer({ min: 0, max: 5000 })),
    fc.constantFrom(1, 1, 2, 0.5, 3, 7),
  ] as const;

  it('gives the TypeScript rule\'s answers bit for bit on random buckets', async () => {
    await fc.assert(
      fc.asyncProperty(
        ...bucketArbitraries,
        fc.constantFrom(0, 0, 0, 250, 5000),
        async (capacity, rate, fraction, at, elapsed, n, offset) => {
          // A level the bucket can hold: up to capacity, or a hair below 0 after a grant within the
          // tolerance. Never −0 (no grant leaves it, and String(−0) would send "0").
          const level = fraction < 0 ? fraction : fraction * capacity + 0;
          const point = { capacity, rate, level, at, t: at + elapsed, n, now: at + elapsed - offset, offset };
          const expected = typescript(point);
          const actual = await lua(point);
          for (const name of Object.keys(expected) as (keyof Answers)[]) {
            expect(Object.is(actual[name], expected[name]), `${name}: Lua ${actual[name]}, TypeScript ${expected[name]}`).toBe(true);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("the script's common path (nobody waiting) grants, refuses, stores and counts as the rule does, bit for bit", async () => {
    const SET_BUCKET = "redis.call('SET', KEYS[1], struct.pack('<dd', tonumber(ARGV[1]), tonumber(ARGV[2])))";
    const GET_BUCKET = `
      local value = redis.call('GET', KEYS[1])
      if not value then return {} end
      local level, at = struct.unpack('<dd', value)
      return { string.format('%.17g', level), string.format('%.17g', at) }`;
    const scripts = new Map<string, string>();
    let run = 0;
    /** One call of the script on the bucket (level, at) at `now`, against the rule. */
    async function common(capacity: number, rate: number, level: number, at: number, now: number, n: number): Promise<void> {
      const perMs = rate / 1000;
      const key = `common:${run++}`;
      const id = `${capacity}/${rate}`;
      if (!scripts.has(id)) scripts.set(id, tokenBucketScript(capacity, rate).lua);
      await server.command('EVAL', SET_BUCKET, '1', key, String(level), String(at));
      // A clock of the caller's (ARGV[3]), so that `now` is known here.
      const reply = await server.command('EVAL', scripts.get(id)!, '1', key, String(n), '0', String(now));
      const stored = ((await server.command('EVAL', GET_BUCKET, '1', key)) as string[]).map(Number);
      const t = now < at ? at : now;
      if (bucketHas(level, at, t, n, perMs)) {
        const after = levelAfterTake(level, at, t, n, capacity, perMs);
        expect(reply).toBe(bucketAvailable(after, t, now, capacity, perMs));
        if (bucketFull(after, t, now, capacity, perMs)) expect(stored).toEqual([]);
        else expect(stored.length === 2 && Object.is(stored[0], after) && Object.is(stored[1], t), `stored ${stored}`).toBe(true);
      } else {
        const retryAfterMs = bucketRetryAfterMs(level, at, n, now, 0, perMs, 1000 / rate);
        expect(reply).toEqual([0, retryAfterMs, bucketAvailable(level, at, now, capacity, perMs)]);
        expect(stored.length === 2 && Object.is(stored[0], level) && Object.is(stored[1], at), 'a refusal writes nothing').toBe(true);
      }
    }
    // The rule's own cases: 3 tokens exactly 10 s after draining at 0.3/s (2.9999999999999996
    // computed: granted within the tolerance); the tolerance n·2^-36 itself; the round-off case;
    // Date.now() magnitudes.
    await common(3, 0.3, 0, 0, 10_000, 3);
    await common(3, 0.3, 0, 0, 9_999, 3);
    for (const by of [2 ** -37, 2 ** -36, 2 ** -35, 1e-9]) await common(1, 1000, 1 - by, 0, 0, 1);
    await common(2, 7, 0, 115, 115, 1);
    await common(2, 7, 0, 115, 257, 1);
    await common(1, 10, 0, 1.7e12 + 0.25, 1.7e12 + 0.25 + 99, 1);
    await common(1, 10, 0, 1.7e12 + 0.25, 1.7e12 + 0.25 + 100, 1);
    await fc.assert(
      fc.asyncProperty(
        ...bucketArbitraries,
        async (capacity, rate, fraction, at, elapsed, n) => {
          fc.pre(n <= capacity);
          await common(capacity, rate, fraction < 0 ? fraction : fraction * capacity + 0, at, at + elapsed, n);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
