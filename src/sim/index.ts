// breakwater/sim: a virtual-time simulator of a fleet of callers, their policies and a downstream.
export { simulate } from './simulate.js';
export { SimulationEngine, type EngineOptions, type RunOptions } from './engine.js';
export { createRandom } from './random.js';
export { Timer } from './heap.js';
export { samplerOf, normalQuantile, type Distribution, type Sampler } from './distribution.js';
export { DOWNSTREAM_RESULT, DownstreamError } from './downstream.js';
export type { Scenario, Phase, RateStep, PolicyEnvironment } from './scenario.js';
export type { SimulationReport, SimulationCounts, SimulationSecond, SimulationTransition } from './report.js';
export { renderChart, type ChartOptions } from './chart.js';
