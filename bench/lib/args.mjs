// `--quick`, `--out <file>`, `--json <file>`, `--only <substring>`; `--key=value` works too.
export function parseArgs(argv) {
  const args = { quick: false, out: undefined, json: undefined, only: undefined, help: false };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq !== -1) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    const take = () => {
      if (value !== undefined) return value;
      const next = argv[++i];
      if (next === undefined) throw new Error(`${arg} needs a value`);
      return next;
    };
    switch (arg) {
      case '--quick': args.quick = true; break;
      case '--out': args.out = take(); break;
      case '--json': args.json = take(); break;
      case '--only': args.only = take(); break;
      case '-h': case '--help': args.help = true; break;
      default: throw new Error(`unknown argument ${arg}`);
    }
  }
  return args;
}
