import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { projectRoot } from './built.js';

// npmjs.com shows README.md without the repository around it: a relative link there leads
// nowhere. Links go to the repository's files, and the files they name ship in the package.

const readme = readFileSync(`${projectRoot}/README.md`, 'utf8');
const pkg = JSON.parse(readFileSync(`${projectRoot}/package.json`, 'utf8')) as {
  files: string[];
  homepage: string;
  repository: { url: string };
  bugs: { url: string };
};
const repositoryUrl = pkg.repository.url.replace(/^git\+/, '').replace(/\.git$/, '');
const links = [
  ...[...readme.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!),
  ...[...readme.matchAll(/^\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1]!),
];

describe('README.md as npmjs.com shows it', () => {
  it('opens with what breakwater is, then the two commands, then how to install it from npm', () => {
    const blocks = [...readme.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => `${m[1]}: ${m[2]!.trim()}`);
    expect(blocks.slice(0, 3)).toEqual(['bash: npm ci && npm run demo', 'bash: npm ci && npm test', 'bash: npm install breakwater']);
    const beforeCommands = readme.slice(0, readme.indexOf('```'));
    expect(beforeCommands).toMatch(/^# breakwater\n\n\*\*breakwater\*\* is /);
    expect(beforeCommands).not.toMatch(/\n#/);
  });

  it('links only to absolute URLs or anchors', () => {
    expect(links.length).toBeGreaterThan(10);
    expect(links.filter((link) => !/^(https?:\/\/|#)/.test(link))).toEqual([]);
  });

  it('links to files of the repository that exist and ship in the package', () => {
    const prefix = `${repositoryUrl}/blob/main/`;
    const files = links.filter((link) => link.startsWith(prefix)).map((link) => link.slice(prefix.length).replace(/#.*$/, ''));
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      expect(existsSync(`${projectRoot}/${file}`), file).toBe(true);
      expect(pkg.files.some((entry) => file === entry || file.startsWith(`${entry}/`)), `${file} is not in "files"`).toBe(true);
    }
    // Other forms (`/tree/…`, another branch) would not be checked above.
    expect(links.filter((link) => link.startsWith(`${repositoryUrl}/`) && !link.startsWith(prefix))).toEqual([]);
  });

  it('the package names its repository, homepage, issue tracker and licence file', () => {
    expect(repositoryUrl).toMatch(/^https:\/\/github\.com\/[\w.-]+\/[\w.-]+$/);
    expect(pkg.homepage.startsWith(repositoryUrl)).toBe(true);
    expect(pkg.bugs.url).toBe(`${repositoryUrl}/issues`);
    expect(pkg.files).toEqual(expect.arrayContaining(['dist', 'docs', 'README.md']));
    const license = readFileSync(`${projectRoot}/LICENSE`, 'utf8');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the breakwater authors\n/);
  });
});
