// API reference: `npm run docs:api` writes HTML to build/api (gitignored); `npm run docs:api:check`
// (scripts/check-api-docs.mjs) fails when an exported name or member has no doc comment, or an
// exported function or class has no `@example`.
//
// The entry points are the package's public subpaths, read from tsup.config.ts (its `entry`
// object: one line per subpath) and checked against package.json "exports": a new subpath
// added there appears here without touching this file, and one added to only one of the two
// stops the docs build with the difference named.
import { readFileSync } from 'node:fs';
import ts from 'typescript';

const root = new URL('./', import.meta.url);

/** `entry: { name: 'src/….ts', … }` of tsup.config.ts, read from its syntax tree (not run). */
function tsupEntries() {
  const file = new URL('tsup.config.ts', root);
  const source = ts.createSourceFile('tsup.config.ts', readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  let entries;
  const visit = (node) => {
    if (
      ts.isPropertyAssignment(node) &&
      (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name)) &&
      node.name.text === 'entry' &&
      ts.isObjectLiteralExpression(node.initializer)
    ) {
      entries = {};
      for (const p of node.initializer.properties) {
        if (!ts.isPropertyAssignment(p) || !ts.isStringLiteralLike(p.initializer)) {
          throw new Error(`typedoc.config.mjs: tsup.config.ts entry "${p.getText(source)}" is not \`name: 'path'\``);
        }
        entries[p.name.getText(source).replace(/^['"]|['"]$/g, '')] = p.initializer.text;
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (entries === undefined) throw new Error('typedoc.config.mjs: no `entry: { … }` object in tsup.config.ts');
  return entries;
}

/** The subpaths of package.json "exports" that are code, as tsup entry names ('.' is `index`). */
function exportedEntryNames() {
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
  return Object.keys(pkg.exports ?? {})
    .filter((subpath) => subpath !== './package.json')
    .map((subpath) => (subpath === '.' ? 'index' : subpath.replace(/^\.\//, '')));
}

/** Entries built for package.json "bin" (the CLI): programs, not documented modules. */
function binEntryNames() {
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
  const bins = typeof pkg.bin === 'string' ? [pkg.bin] : Object.values(pkg.bin ?? {});
  return bins.map((file) => String(file).replace(/^\.\/dist\//, '').replace(/\.(c|m)?js$/, ''));
}

function entryPoints() {
  const entries = tsupEntries();
  const bins = binEntryNames();
  const built = Object.keys(entries).filter((name) => !bins.includes(name));
  const exported = exportedEntryNames();
  const notExported = built.filter((name) => !exported.includes(name));
  const notBuilt = exported.filter((name) => !built.includes(name));
  if (notExported.length || notBuilt.length) {
    throw new Error(
      'typedoc.config.mjs: tsup.config.ts and package.json "exports" disagree' +
        (notExported.length ? `; built but not exported: ${notExported.join(', ')}` : '') +
        (notBuilt.length ? `; exported but not built: ${notBuilt.join(', ')}` : ''),
    );
  }
  return built.map((name) => entries[name]);
}

/** Source links point at the repository package.json names (a checkout may have no remote). */
function sourceLinkTemplate() {
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
  const url = String(pkg.repository?.url ?? pkg.repository ?? '').replace(/^git\+/, '').replace(/\.git$/, '');
  return url.startsWith('https://github.com/') ? `${url}/blob/{gitRevision}/{path}#L{line}` : undefined;
}

/** @type {Partial<import('typedoc').TypeDocOptions>} */
export default {
  name: 'breakwater',
  entryPoints: entryPoints(),
  entryPointStrategy: 'resolve',
  tsconfig: 'tsconfig.json',
  // `npm run typecheck` judges the types; the reference only reads them.
  skipErrorChecking: true,
  sourceLinkTemplate: sourceLinkTemplate(),
  out: 'build/api',
  readme: 'README.md',
  // What users can reach: `/** @internal */` declarations (the policy protocol, raw
  // constructors) are left out of the published types, so out of the reference too.
  excludeInternal: true,
  excludePrivate: true,
  excludeProtected: true,
  excludeExternals: true,
  includeVersion: true,
  sort: ['source-order'],
  validation: {
    notExported: true,
    invalidLink: true,
    notDocumented: true,
  },
  // The exported names and their public members (option properties, methods, accessors,
  // constructors); scripts/check-api-docs.mjs adds the `@example` on every function and class.
  requiredToBeDocumented: [
    'Class',
    'Function',
    'Variable',
    'Interface',
    'TypeAlias',
    'Enum',
    'EnumMember',
    'Property',
    'Method',
    'Accessor',
    'Constructor',
  ],
  // Members of type literals written on one line, which their parent's comment documents:
  // - the brand `PolicyResult` matches on (`P extends { readonly [RESULT]: infer R }`), a
  //   type-level pattern with no value and nothing for a reader to set;
  // - the constructor types of prom-client's classes (the property says which class);
  // - the forms of a `Distribution` and the fields of `Scenario.callers`, each listed with its
  //   meaning in the comment of the alias or the property.
  intentionallyNotDocumented: [
    'index.PolicyResult.__type.[RESULT]',
    'telemetry/prometheus.PromClientLike.Counter.__type',
    'telemetry/prometheus.PromClientLike.Histogram.__type',
    'telemetry/prometheus.PromClientLike.Gauge.__type',
    'sim.Distribution.__type.constant',
    'sim.Distribution.__type.exponential',
    'sim.Distribution.__type.exponential.__type.meanMs',
    'sim.Distribution.__type.lognormal',
    'sim.Distribution.__type.lognormal.__type.p50Ms',
    'sim.Distribution.__type.lognormal.__type.p99Ms',
    'sim.Distribution.__type.percentiles',
    'sim.Scenario.callers.__type.timeoutMs',
    'sim.Scenario.callers.__type.retries',
  ],
};
