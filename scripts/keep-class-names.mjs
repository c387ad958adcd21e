// A tsup plugin that gives bundled classes back their own names.
//
// When it bundles, esbuild turns every top-level `class X {}` into `var X = class {}`, and a
// class whose body names itself (a static factory, an `instanceof X`) into
// `var X = class _X {}`, so `X.name` is "_X": `new TimeoutError(1).name` read "_TimeoutError"
// and stack traces said `new _TimeoutError`. esbuild's `keepNames` fixes that by wrapping every
// function in a `__name(fn, "fn")` call, closures included, and a closure created per call
// (a waiter's abort handler) then pays an Object.defineProperty each time. This renames only
// the inner class binding, inside its own class body, where it can only mean the class itself.
// Each `_X` becomes ` X` (padded to the same length), so the source maps stay exact.
import ts from 'typescript';

/** @returns {import('tsup').Plugin} */
export function keepClassNames() {
  return {
    name: 'keep-class-names',
    renderChunk(code, info) {
      if (!/\.[cm]?js$/.test(info.path)) return undefined;
      const renamed = renameInnerClassNames(code, info.path);
      return renamed === code ? undefined : { code: renamed };
    },
  };
}

/** Rewrites `var X = class _X … { … _X … }` to `var X = class  X … { …  X … }`. */
export function renameInnerClassNames(code, fileName = 'chunk.js') {
  const source = ts.createSourceFile(fileName, code, ts.ScriptTarget.Latest, true, ts.ScriptKind.JS);
  /** @type {Array<{ start: number, end: number, text: string }>} */
  const edits = [];
  const visit = (node) => {
    if (
      ts.isVariableDeclaration(node) &&
      ts.isIdentifier(node.name) &&
      node.initializer !== undefined &&
      ts.isClassExpression(node.initializer) &&
      node.initializer.name !== undefined &&
      node.initializer.name.text !== node.name.text
    ) {
      const outer = node.name.text;
      const inner = node.initializer.name.text;
      if (inner.length < outer.length) {
        throw new Error(`${fileName}: class ${inner} bound to ${outer}: cannot rename without moving the source map`);
      }
      const replacement = outer.padStart(inner.length, ' ');
      renameReferences(node.initializer, inner, (id) => {
        edits.push({ start: id.getStart(source), end: id.getEnd(), text: replacement });
      }, fileName);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  let out = code;
  for (const edit of edits.sort((a, b) => b.start - a.start)) {
    out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
  }
  return out;
}

/** Calls `rename` for every identifier `name` in `root` that is a reference (not a property name). */
function renameReferences(root, name, rename, fileName) {
  const visit = (node) => {
    if (ts.isIdentifier(node) && node.text === name) {
      const parent = node.parent;
      if (ts.isShorthandPropertyAssignment(parent)) {
        throw new Error(`${fileName}: shorthand property { ${name} } inside class ${name}: rename would change the key`);
      }
      const isPropertyName =
        (ts.isPropertyAccessExpression(parent) && parent.name === node) ||
        ((ts.isPropertyAssignment(parent) ||
          ts.isMethodDeclaration(parent) ||
          ts.isPropertyDeclaration(parent) ||
          ts.isGetAccessorDeclaration(parent) ||
          ts.isSetAccessorDeclaration(parent)) &&
          parent.name === node);
      if (!isPropertyName) rename(node);
    }
    ts.forEachChild(node, visit);
  };
  visit(root);
}
