// Types for adaptive-scenario.mjs (imported by the TypeScript system test).
import type { Clock, Policy } from '../../src/index.js';

export function seededRandom(seed: number): () => number;

export class SimulatedDownstream {
  constructor(options: { clock: Clock; servers: number; serviceMs: number; random: () => number });
  readonly servers: number;
  slowdown: number;
  readonly busy: number;
  readonly waiting: ReadonlyArray<() => void>;
  request(): Promise<void>;
}

export interface TracePoint {
  readonly tMs: number;
  readonly phase: number;
  readonly limit: number;
  readonly active: number;
  readonly queued: number;
  readonly completed: number;
  readonly refused: number;
}

export function runScenario(options: {
  clock: Clock & { advance(ms: number): Promise<void> };
  policy: Policy & { readonly limit: number; readonly active: number; readonly queued: number };
  downstream: SimulatedDownstream;
  clients: number;
  phases: ReadonlyArray<{ readonly durationMs: number; readonly slowdown: number }>;
  stepMs?: number;
  retryMs?: number;
}): Promise<TracePoint[]>;
