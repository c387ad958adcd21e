// Instructions per call, counted by valgrind's callgrind, for several builds side by side: a
// figure that the load of a shared machine does not move (unlike ns), to compare builds exactly.
//   node bench/instructions.mjs wave1=/path/to/dist now=dist [--only pipeline,timeout] [--calls 1000000] [--semi-space MB]
// Each row runs twice under callgrind (1 000 calls, then 1 000 + N) with `--single-threaded`,
// so that no background compiler thread makes the count vary; the difference ÷ N is the cost of
// one call, startup and warm-up excluded. 100 calls in flight, fn resolves at once, as in the
// throughput suite. Δ is the row minus the bare `await fn()` row of the same build. Needs
// valgrind (`apt-get install -y valgrind`); a row takes about a minute.
//
// `--semi-space MB` pins V8's young generation at that size. Unpinned, V8 resizes it as it goes
// by heuristics that are not a function of the bytes allocated alone, and under valgrind two
// builds that allocate the same bytes per call ran different numbers of scavenges: 233 against
// 198 per million bulkhead calls; pinned at 1 MB they ran 119 and 118 per 300 000 under valgrind
// (392 and 391 per million natively). A scavenge costs about half a million instructions. Pinned,
// the collector's share of a row depends on the bytes the row allocates.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { POLICY_ROWS } from './lib/policy-rows.mjs';

/** The rows: the bare `await fn()`, then the per-policy rows of bench/compare.mjs. */
const ROWS = { bare: () => undefined, ...Object.fromEntries(POLICY_ROWS.map(([id, , make]) => [id, make])) };

const self = fileURLToPath(import.meta.url);
/** The child's exit code for a row the build does not have. */
const MISSING = 3;

if (process.argv[2] === '--child') {
  // One measured run: `--child <dist> <row> <calls>`.
  const [, , , dist, row, callsText] = process.argv;
  const bw = await import(pathToFileURL(resolve(dist, 'index.js')).href);
  let policy;
  try {
    policy = ROWS[row](bw);
  } catch (error) {
    // A build older than the policy (wave 1 has no adaptiveConcurrency): a row it cannot run.
    process.stderr.write(`${row}: ${error?.message ?? error}\n`);
    process.exit(MISSING);
  }
  const fn = async () => 1;
  const call = policy === undefined ? fn : () => policy.execute(fn);
  const calls = Number(callsText);
  for (let done = 0; done < calls; done += 100) {
    const batch = [];
    for (let i = 0; i < 100; i++) batch.push(call());
    await Promise.all(batch);
  }
} else {
  await main(process.argv.slice(2));
}

async function main(args) {
  const builds = [];
  let only = Object.keys(ROWS).filter((row) => row !== 'bare');
  let calls = 1_000_000;
  let semiSpaceFlags = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--only') only = args[++i].split(',');
    else if (arg === '--calls') calls = Number(args[++i]);
    else if (arg === '--semi-space') {
      const mb = Number(args[++i]);
      if (!(Number.isInteger(mb) && mb >= 1)) usage('--semi-space must be a whole number of MB ≥ 1');
      semiSpaceFlags = [`--min-semi-space-size=${mb}`, `--max-semi-space-size=${mb}`];
    }
    else if (arg.includes('=')) {
      const [name, dist] = arg.split('=');
      builds.push({ name, dist: resolve(dist) });
    } else usage(`unknown argument ${arg}`);
  }
  if (builds.length === 0) usage('name at least one build: name=path/to/dist');
  for (const row of only) if (!(row in ROWS)) usage(`unknown row ${row}; rows: ${Object.keys(ROWS).join(', ')}`);
  if (!(Number.isInteger(calls) && calls >= 1_000)) usage('--calls must be a whole number ≥ 1000');

  const perCall = {};
  for (const build of builds) {
    perCall[build.name] = {};
    for (const row of ['bare', ...only]) {
      const long = count(build.dist, row, 1_000 + calls, semiSpaceFlags);
      const cost = long === undefined ? Number.NaN : (long - count(build.dist, row, 1_000, semiSpaceFlags)) / calls;
      perCall[build.name][row] = cost;
      process.stderr.write(`  ${build.name} ${row}: ${Number.isNaN(cost) ? 'not in this build' : `${Math.round(cost)} instructions/call`}\n`);
    }
  }
  const [reference, ...others] = builds;
  const delta = (build, row) => perCall[build.name][row] - perCall[build.name].bare;
  const header = ['row', ...builds.map((b) => `${b.name} Δ`), ...others.map((b) => `${b.name} ÷ ${reference.name}`)];
  const pinned = semiSpaceFlags.length === 0 ? '' : `, young generation pinned (${semiSpaceFlags.join(' ')})`;
  console.log(`Instructions per call (callgrind${pinned}), Δ over the bare \`await fn()\` of the same build (${builds.map((b) => `${b.name} ${Math.round(perCall[b.name].bare)}`).join(', ')}).`);
  console.log(`| ${header.join(' | ')} |`);
  console.log(`| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`);
  for (const row of only) {
    const shown = (x, digits) => (Number.isNaN(x) ? '—' : x.toFixed(digits));
    const cells = builds.map((b) => shown(delta(b, row), 0));
    const ratios = others.map((b) => shown(delta(b, row) / delta(reference, row), 2));
    console.log(`| ${row} | ${[...cells, ...ratios].join(' | ')} |`);
  }
}

/** Instructions of one run of the child under callgrind; undefined when the build lacks the row. */
function count(dist, row, calls, nodeFlags) {
  const run = spawnSync(
    'valgrind',
    ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--single-threaded', ...nodeFlags, self, '--child', dist, row, String(calls)],
    { encoding: 'utf8' },
  );
  if (run.error !== undefined) usage(`cannot run valgrind (${run.error.message}); install it with apt-get install -y valgrind`);
  if (run.status === MISSING) return undefined;
  const match = /Collected : (\d+)/.exec(run.stderr);
  if (run.status !== 0 || match === null) throw new Error(`callgrind run failed (${dist} ${row}):\n${run.stderr.slice(-2000)}`);
  return Number(match[1]);
}

function usage(problem) {
  process.stderr.write(`bench/instructions: ${problem}\nusage: node bench/instructions.mjs name=path/to/dist [name=…] [--only ${Object.keys(ROWS).filter((r) => r !== 'bare').join(',')}] [--calls N] [--semi-space MB]\n`);
  process.exit(2);
}
