// The public API as the published types state it: every export of every subpath, with its
// kind and declaration (private members left out), read from the built dist/*.d.ts.
//   npm run api:report          builds, then rewrites api-report.txt
//   node scripts/api-report.mjs --check   exits 1 when dist/ differs from api-report.txt
// test/package/api-report.test.ts holds the built types to the committed file, so a change
// of the public surface shows up in review as a diff of api-report.txt.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export const projectRoot = fileURLToPath(new URL('..', import.meta.url));
export const reportFile = join(projectRoot, 'api-report.txt');

const HEADER = `# breakwater public API, generated from dist/*.d.ts by \`npm run api:report\`: do not edit.
# Every export of every subpath (identical for import and require), then the declarations the
# exports refer to without exporting them. Private members are left out.
`;

/** Subpath → the types file of each condition, from package.json "exports". */
export function typeEntries(root = projectRoot) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const entries = [];
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target !== 'object' || target === null) continue;
    const specifier = subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`;
    entries.push({ specifier, import: join(root, target.import.types), require: join(root, target.require.types) });
  }
  return entries;
}

/** Loads every dist/*.d.ts and *.d.cts into one program, type-checked as a user's compiler would. */
export function loadTypes(root = projectRoot) {
  const dist = join(root, 'dist');
  const files = readdirSync(dist)
    .filter((f) => f.endsWith('.d.ts') || f.endsWith('.d.cts'))
    .map((f) => join(dist, f));
  const program = ts.createProgram(files, {
    strict: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    skipLibCheck: false,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2022.d.ts'],
    types: ['node'],
    typeRoots: [join(root, 'node_modules', '@types')],
  });
  const diagnostics = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file === undefined || d.file.fileName.startsWith(dist))
    .map((d) => ts.formatDiagnostic(d, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' }).trim());
  return { program, checker: program.getTypeChecker(), files, diagnostics };
}

const printer = ts.createPrinter({ removeComments: true });

function isPrivate(member) {
  if (member.name !== undefined && ts.isPrivateIdentifier(member.name)) return true;
  return (ts.getCombinedModifierFlags(member) & ts.ModifierFlags.Private) !== 0;
}

/** One declaration as text: no comments, no `declare`, no private members. */
function print(node) {
  let shown = node;
  if (ts.isClassDeclaration(node)) {
    shown = ts.factory.updateClassDeclaration(
      node,
      node.modifiers,
      node.name,
      node.typeParameters,
      node.heritageClauses,
      node.members.filter((m) => !isPrivate(m)),
    );
  }
  const text = printer.printNode(ts.EmitHint.Unspecified, shown, node.getSourceFile());
  return text.replace(/^(export )?declare /, '').replace(/ {4}/g, '  ');
}

/** A variable's declaration is the whole `declare const x: T;` statement. */
function statementOf(declaration) {
  if (ts.isVariableDeclaration(declaration)) return declaration.parent.parent;
  return declaration;
}

function exportsOf(checker, sourceFile) {
  const moduleSymbol = checker.getSymbolAtLocation(sourceFile);
  if (moduleSymbol === undefined) return [];
  return checker.getExportsOfModule(moduleSymbol).map((symbol) => {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol;
    return { name: symbol.name, declarations: (target.declarations ?? []).map(statementOf) };
  });
}

function section(title, declarations) {
  const lines = [`## ${title}`, ''];
  for (const { name, declarations: nodes } of declarations.sort((a, b) => a.name.localeCompare(b.name))) {
    const texts = [...new Set(nodes.map(print))];
    const declaredAs = nodes[0] && nodes[0].name && ts.isIdentifier(nodes[0].name) ? nodes[0].name.text : name;
    if (declaredAs !== name) lines.push(`// exported as ${name}`);
    lines.push(...texts, '');
  }
  return lines.join('\n');
}

/** The report text for one condition's types (`import`: .d.ts, `require`: .d.cts). */
export function apiReport(types, condition, root = projectRoot) {
  const { program, checker, files } = types;
  const parts = [HEADER];
  const exported = new Set();
  for (const entry of typeEntries(root)) {
    const sourceFile = program.getSourceFile(entry[condition]);
    if (sourceFile === undefined) throw new Error(`no types at ${entry[condition]} (run npm run build)`);
    const list = exportsOf(checker, sourceFile);
    for (const { declarations } of list) for (const d of declarations) exported.add(d);
    parts.push(section(entry.specifier, list));
  }
  // Top-level declarations of this condition's files that no subpath exports.
  const suffix = condition === 'import' ? '.d.ts' : '.d.cts';
  const unexported = [];
  for (const file of files.filter((f) => f.endsWith(suffix))) {
    for (const statement of program.getSourceFile(file).statements) {
      if (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement) || ts.isExportAssignment(statement)) continue;
      if (exported.has(statement)) continue;
      const name = ts.isVariableStatement(statement)
        ? statement.declarationList.declarations.map((d) => d.name.getText()).join(', ')
        : statement.name?.getText() ?? '(anonymous)';
      unexported.push({ name, declarations: [statement] });
    }
  }
  parts.push(section('declared for the exports, not exported', unexported));
  return `${parts.join('\n').trimEnd()}\n`;
}

/** Every identifier in dist's types (comments aside) → the files it appears in. */
export function identifiersIn(types, root = projectRoot) {
  const identifiers = new Map();
  for (const file of types.files) {
    const visit = (node) => {
      if (ts.isIdentifier(node) || ts.isPrivateIdentifier(node)) {
        if (!identifiers.has(node.text)) identifiers.set(node.text, new Set());
        identifiers.get(node.text).add(file.slice(root.length));
      }
      ts.forEachChild(node, visit);
    };
    visit(types.program.getSourceFile(file));
  }
  return identifiers;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const types = loadTypes();
  if (types.diagnostics.length > 0) {
    console.error(`dist's types do not type-check:\n${types.diagnostics.join('\n')}`);
    process.exit(1);
  }
  const text = apiReport(types, 'import');
  if (apiReport(types, 'require') !== text) {
    console.error('the .d.cts types differ from the .d.ts types');
    process.exit(1);
  }
  if (process.argv.includes('--check')) {
    const committed = readFileSync(reportFile, 'utf8');
    if (committed !== text) {
      console.error('api-report.txt differs from dist/*.d.ts: run `npm run api:report` and review the diff');
      process.exit(1);
    }
    console.log('api-report.txt matches dist/*.d.ts');
  } else {
    writeFileSync(reportFile, text);
    console.log(`wrote ${reportFile.slice(projectRoot.length)}`);
  }
}
