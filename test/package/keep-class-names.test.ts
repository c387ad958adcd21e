import { describe, expect, it } from 'vitest';

// The build step that keeps bundled class names (see scripts/keep-class-names.mjs).
const { renameInnerClassNames } = (await import(new URL('../../scripts/keep-class-names.mjs', import.meta.url).href)) as {
  renameInnerClassNames: (code: string) => string;
};

describe('renameInnerClassNames', () => {
  it('renames the inner class binding and its references, never a property of that name', () => {
    const bundled = [
      'var Foo = class _Foo extends Base {',
      '  static make() { return new _Foo(); }',
      '  get _Foo() { return { _Foo: this._Foo }; }',
      '  is(x) { return x instanceof _Foo; }',
      '};',
      'var Bar = class {};',
    ].join('\n');
    const out = renameInnerClassNames(bundled);
    expect(out).toBe(
      [
        'var Foo = class  Foo extends Base {',
        '  static make() { return new  Foo(); }',
        '  get _Foo() { return { _Foo: this._Foo }; }',
        '  is(x) { return x instanceof  Foo; }',
        '};',
        'var Bar = class {};',
      ].join('\n'),
    );
    // Same length on every line, so the source map esbuild wrote still points at the right columns.
    expect(out.split('\n').map((line) => line.length)).toEqual(bundled.split('\n').map((line) => line.length));
    expect(new Function('Base', `${out}; return [Foo.name, Foo.make() instanceof Foo];`)(class {})).toEqual(['Foo', true]);
  });

  it('refuses a shorthand property it would silently rename', () => {
    expect(() => renameInnerClassNames('var Foo = class _Foo { static all() { return { _Foo }; } };')).toThrow(/shorthand/);
  });

  it('leaves a chunk without renamed classes as it was', () => {
    const code = 'var Foo = class { m() { return 1; } };\nexport { Foo };\n';
    expect(renameInnerClassNames(code)).toBe(code);
  });
});
