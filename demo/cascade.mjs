#!/usr/bin/env node
// npm run demo — does a bad deploy downstream cascade into the service that calls it?
// Runs the same open-loop load twice against a downstream that goes bad midway and heals:
// once with the upstream calling it unprotected, once through a breakwater pipeline, and
// prints what was measured side by side (or one JSON object with --json). See docs/demo.md.
import os from 'node:os';
import { parseConfig, usage } from './lib/args.mjs';
import { createProgress } from './lib/progress.mjs';
import { checkDist } from './lib/protection.mjs';
import { renderTable, toJson } from './lib/report.mjs';
import { runScenario } from './lib/scenario.mjs';

async function main() {
  let config;
  try {
    config = parseConfig(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error.message}\n\n${usage()}\n`);
    process.exitCode = 2;
    return;
  }
  if (config.help) {
    process.stdout.write(`${usage()}\n`);
    return;
  }
  const { json, quiet, help: _help, ...scenario } = config;
  checkDist();
  const progress = createProgress({ quiet });

  const runs = {};
  for (const name of ['unprotected', 'protected']) {
    progress.start(name);
    runs[name] = await runScenario(name, scenario, progress.sample);
    progress.end(name);
  }

  if (json) {
    process.stdout.write(`${JSON.stringify(toJson({ ...scenario, machine: machine() }, runs))}\n`);
  } else {
    process.stdout.write(`${renderTable(scenario, runs, describeMachine())}\n`);
  }
}

function machine() {
  const cpus = os.cpus();
  return { node: process.version, cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, platform: `${os.platform()} ${os.arch()}` };
}

function describeMachine() {
  const m = machine();
  return `measured on node ${m.node}, ${m.cpu} × ${m.cores}, ${m.platform}`;
}

main().catch((error) => {
  process.stderr.write(`${error?.code === 'ERR_DEMO_DIST' ? error.message : (error?.stack ?? error)}\n`);
  process.exitCode = 1;
});
