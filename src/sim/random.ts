// Seeded pseudo-random numbers for the simulator: the same seed gives the same run, byte for
// byte. sfc32 (Chris Doty-Humphrey's "small fast counting" generator, PractRand-clean) is
// seeded through splitmix32, so nearby seeds and stream numbers give unrelated sequences.

/** One step of splitmix32: a good scrambler of consecutive integers. */
function splitmix32(state: number): [next: number, output: number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return [next, (z ^ (z >>> 15)) >>> 0];
}

/**
 * A generator of numbers in [0, 1) for `seed` (any integer) and `stream` (a number naming an
 * independent sequence: the arrivals, the downstream, each instance's policies…). Separate
 * streams keep one consumer's draws from shifting another's: a policy that draws more random
 * numbers does not change the arrival times, so configurations of a sweep see the same traffic.
 *
 * @example
 * ```ts
 * import { retry } from 'breakwater';
 * import { createRandom } from 'breakwater/sim';
 *
 * const jitter = createRandom(7, 1); // seed 7, stream 1: the same numbers on every run
 * const policy = retry({ maxRetries: 3, random: jitter });
 * console.log(createRandom(7, 1)() === createRandom(7, 1)()); // true
 * ```
 */
export function createRandom(seed: number, stream = 0): () => number {
  let state = (Math.imul(seed | 0, 0x85ebca6b) ^ Math.imul((stream | 0) + 1, 0xc2b2ae35)) | 0;
  const words: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [next, output] = splitmix32(state);
    state = next;
    words.push(output);
  }
  let a = words[0]! | 0;
  let b = words[1]! | 0;
  let c = words[2]! | 0;
  let d = words[3]! | 0;
  const next = (): number => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  // The first outputs still carry the seed's structure; the reference implementation skips them.
  for (let i = 0; i < 12; i++) next();
  return next;
}
