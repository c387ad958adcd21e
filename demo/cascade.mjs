#!/usr/bin/env node
// npm run demo — does a bad deploy downstream cascade into the service that calls it?
// Plays each scenario (a bad deploy; a healthy but slower build) three times with the same
// open-loop load against a downstream that changes midway and is rolled back: with the
// upstream calling it unprotected, through a breakwater pipeline with a hand-sized bulkhead,
// and through the same pipeline with an adaptive concurrency limit. Prints what was measured
// side by side (or one JSON object with --json). See docs/demo.md.
import os from 'node:os';
import { parseConfig, usage } from './lib/args.mjs';
import { createProgress } from './lib/progress.mjs';
import { checkDist } from './lib/protection.mjs';
import { renderTable, toJson } from './lib/report.mjs';
import { RUNS, runScenario } from './lib/scenario.mjs';

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
  const { json, quiet, scenarios } = config;
  checkDist();
  const progress = createProgress({ quiet });

  const results = [];
  for (const scenario of scenarios) {
    const runs = {};
    for (const run of RUNS) {
      const name = `${scenario.scenario}/${run}`;
      progress.start(name);
      runs[run] = await runScenario(run, scenario, progress.sample);
      progress.end(name);
    }
    results.push({ config: scenario, runs });
  }

  if (json) {
    process.stdout.write(`${JSON.stringify(toJson(machine(), results))}\n`);
  } else {
    const tables = results.map(({ config: scenario, runs }) => renderTable(scenario, runs));
    process.stdout.write(`breakwater cascade demo, ${describeMachine()}\n\n${tables.join('\n\n')}\n`);
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
