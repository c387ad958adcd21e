// Where and with what the numbers were measured.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

const root = new URL('../../', import.meta.url);

function versionOf(name) {
  try {
    return JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, root), 'utf8')).version;
  } catch {
    return 'not installed';
  }
}

function gitRevision() {
  try {
    const rev = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim();
    return dirty ? `${rev} + uncommitted src changes` : rev;
  } catch {
    return 'unknown';
  }
}

export function environment() {
  const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8'));
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    breakwater: `${pkg.version} (${gitRevision()})`,
    packages: Object.fromEntries(
      ['tinybench', 'cockatiel', 'opossum', 'p-limit', 'limiter', 'rate-limiter-flexible'].map((n) => [n, versionOf(n)]),
    ),
  };
}

/** The environment of the HTTP benches: the machine, and the frameworks and peers they load. */
export function httpEnvironment() {
  const env = environment();
  return {
    date: env.date,
    machine: `${env.cpu}, ${env.cores} cores, ${env.os}`,
    node: env.node,
    breakwater: env.breakwater,
    packages: Object.fromEntries(['express', 'express-rate-limit', 'fastify', '@fastify/rate-limit', 'autocannon'].map((n) => [n, versionOf(n)])),
  };
}
