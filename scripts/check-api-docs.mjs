// The API reference's completeness check, run by `npm run docs:api:check`:
//   node scripts/check-api-docs.mjs
// TypeDoc converts the public entry points (typedoc.config.mjs) and validates them with
// warnings as errors: its `notDocumented` check fails a name or member with no doc comment.
// Then this script holds the converted project to what TypeDoc does not check: every exported
// function and class has an `@example`, and every exported name has a summary (a comment made
// only of tags, say a lone `@example`, passes TypeDoc but tells a reader nothing).
import { fileURLToPath } from 'node:url';

const KIND = { Namespace: 4, Enum: 8, Variable: 32, Function: 64, Class: 128, Interface: 256, TypeAlias: 2097152, Reference: 4194304 };
const NAME_OF_KIND = Object.fromEntries(Object.entries(KIND).map(([name, kind]) => [kind, name]));
const NEEDS_EXAMPLE = new Set([KIND.Function, KIND.Class]);

/** The comments a reader sees for a reflection: its own, and for a function its signatures'. */
function commentsOf(reflection) {
  return [reflection.comment, ...(reflection.signatures ?? []).map((s) => s.comment)].filter(Boolean);
}

const hasSummary = (comment) => (comment.summary ?? []).some((part) => String(part.text ?? '').trim() !== '');
const hasExample = (comment) => (comment.blockTags ?? []).some((tag) => tag.tag === '@example' && tag.content?.length);

/**
 * The exported names of a TypeDoc project (its JSON form, `app.serializer.projectToObject`)
 * that break the rules above, as `module.name (Kind): problem` lines; empty when all hold.
 * A re-export (a Reference) is judged where its target is declared.
 */
export function missingApiDocs(project) {
  const problems = [];
  const visit = (container, path) => {
    for (const child of container.children ?? []) {
      if (child.kind === KIND.Reference) continue;
      const where = `${path}${child.name} (${NAME_OF_KIND[child.kind] ?? child.kind})`;
      if (child.kind === KIND.Namespace) {
        visit(child, `${path}${child.name}.`);
        continue;
      }
      const comments = commentsOf(child);
      if (!comments.some(hasSummary)) problems.push(`${where}: no doc comment saying what it is for`);
      if (NEEDS_EXAMPLE.has(child.kind) && !comments.some(hasExample)) problems.push(`${where}: no @example`);
    }
  };
  // One entry point gives a project whose children are the exports; several give modules.
  const modules = (project.children ?? []).every((c) => c.kind === 2) ? project.children : [project];
  for (const module of modules ?? []) visit(module, modules === project.children ? `${module.name}.` : '');
  return problems;
}

/**
 * Converts and validates with TypeDoc (options from `optionsFile`, plus `overrides`), then
 * applies `missingApiDocs`. Resolves to TypeDoc's own warnings and errors (`typedocMessages`,
 * printed as they come unless `logLevel` says otherwise) and this script's `problems`.
 */
export async function checkApiDocs({ optionsFile = 'typedoc.config.mjs', overrides = {} } = {}) {
  const td = await import('typedoc');
  const app = await td.Application.bootstrapWithPlugins(
    { options: optionsFile, treatValidationWarningsAsErrors: true, ...overrides },
    [new td.TypeDocReader(), new td.PackageJsonReader(), new td.TSConfigReader()],
  );
  const typedocMessages = [];
  const log = app.logger.log.bind(app.logger);
  app.logger.log = (message, level) => {
    if (level >= td.LogLevel.Warn) typedocMessages.push(String(message).replace(/\x1b\[[0-9;]*m/g, ''));
    log(message, level);
  };
  const project = await app.convert();
  if (project !== undefined) app.validate(project);
  const typedocFailed = project === undefined || app.logger.hasErrors() || app.logger.hasWarnings();
  const problems = project === undefined ? [] : missingApiDocs(app.serializer.projectToObject(project, process.cwd()));
  return { typedocFailed, typedocMessages, problems };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { typedocFailed, problems } = await checkApiDocs();
  for (const problem of problems) console.error(`check-api-docs: ${problem}`);
  if (typedocFailed) console.error('check-api-docs: TypeDoc reported errors or warnings (above)');
  if (typedocFailed || problems.length > 0) process.exit(1);
  console.log('check-api-docs: every exported name has a doc comment, every function and class an @example');
}
