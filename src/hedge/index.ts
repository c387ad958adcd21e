export {
  hedge,
  HedgePolicy,
  type HedgeOptions,
  type HedgeEvents,
  type HedgeAttemptEvent,
  type HedgeSuccessEvent,
} from './hedge.js';
