// Flags of bench/run.mjs: `--quick`, `--out <file>`, `--json <file>`, `--only <substring>`,
// `--write-docs`; `--key=value` works too. A flag it does not know is a UsageError (exit 2).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export class UsageError extends Error {}

export const USAGE = `usage: node --expose-gc bench/run.mjs [--quick] [--only filter] [--out file.md] [--json file.json] [--write-docs]
  (no flag)     full run (~3-4 min); the report goes to build/benchmarks.md (untracked)
  --quick       smoke run (~15 s) with few iterations; the report goes to stdout unless --out
  --only f      only the rows / groups matching f, or one suite: allocations | memory | sustained | scale
  --out f       write the markdown report to f
  --json f      write every measurement as JSON to f
  --write-docs  a full run that rewrites the committed docs/benchmarks.md
  -h, --help    show this help`;

/** The committed results page: only `--write-docs` rewrites it. */
export const DOCS_PAGE = fileURLToPath(new URL('../../docs/benchmarks.md', import.meta.url));
/** Where a full run's report goes by default. */
export const DEFAULT_REPORT = fileURLToPath(new URL('../../build/benchmarks.md', import.meta.url));

/**
 * Walks `argv` one flag at a time: `onFlag(flag, take)` handles a flag and returns true, or
 * returns false for one it does not know (a UsageError). `take()` reads the flag's value, from
 * `--flag=value` or the next word.
 */
export function eachFlag(argv, onFlag) {
  for (let i = 0; i < argv.length; i++) {
    let flag = argv[i];
    let value;
    const eq = flag.indexOf('=');
    if (flag.startsWith('--') && eq !== -1) {
      value = flag.slice(eq + 1);
      flag = flag.slice(0, eq);
    }
    const take = () => {
      if (value !== undefined) return value;
      const next = argv[++i];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    if (!onFlag(flag, take)) throw new UsageError(`unknown argument ${flag}`);
  }
}

/**
 * The script's flags, parsed by `parse`; a UsageError prints it with `usage` and exits 2, and
 * `--help` prints `usage` and exits 0. `name` prefixes the message.
 */
export function flagsOrExit(name, parse, usage, argv = process.argv.slice(2)) {
  let args;
  try {
    args = parse(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${name}: ${error.message}\n\n${usage}\n`);
    process.exit(2);
  }
  if (args.help) {
    console.log(usage);
    process.exit(0);
  }
  return args;
}

/**
 * Without `--expose-gc` (the figures force full GCs), runs this same command again with it and
 * exits with its status; `scriptUrl` is the caller's `import.meta.url`.
 */
export function rerunWithExposeGc(scriptUrl) {
  if (typeof globalThis.gc === 'function') return;
  const result = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, fileURLToPath(scriptUrl), ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(result.status ?? 1);
}

export function parseArgs(argv) {
  const args = { quick: false, out: undefined, json: undefined, only: undefined, writeDocs: false, help: false };
  eachFlag(argv, (flag, take) => {
    switch (flag) {
      case '--quick': args.quick = true; break;
      case '--out': args.out = take(); break;
      case '--json': args.json = take(); break;
      case '--only': args.only = take(); break;
      case '--write-docs': args.writeDocs = true; break;
      case '-h': case '--help': args.help = true; break;
      default: return false;
    }
    return true;
  });
  if (args.writeDocs && (args.quick || args.only !== undefined || args.out !== undefined)) {
    throw new UsageError('--write-docs rewrites docs/benchmarks.md from a full run: it takes no --quick, --only or --out');
  }
  return args;
}

/** The markdown report's path, or undefined for stdout (a quick or partial run without --out). */
export function reportPath(args) {
  if (args.writeDocs) return DOCS_PAGE;
  if (args.out !== undefined) return args.out;
  return args.quick || args.only !== undefined ? undefined : DEFAULT_REPORT;
}
