export { chaos, ChaosPolicy, type ChaosOptions, type ChaosEvents, type ChaosKind, type InjectedEvent } from './chaos.js';
