import type { Limit, LimitSample } from '../../src/adaptive/index.js';

/**
 * A Limit the test moves by hand, recording every sample it gets. `subscribable: false`
 * leaves out `subscribe`, so a limiter has to poll it.
 */
export class SettableLimit implements Limit {
  readonly samples: LimitSample[] = [];
  private listeners: Array<(limit: number) => void> = [];
  subscribe?: (listener: (limit: number) => void) => () => void;

  constructor(
    public limit: number,
    subscribable = true,
  ) {
    if (subscribable) {
      this.subscribe = (listener) => {
        this.listeners.push(listener);
        return () => {
          this.listeners = this.listeners.filter((l) => l !== listener);
        };
      };
    }
  }

  get listenerCount(): number {
    return this.listeners.length;
  }

  set(limit: number): void {
    if (limit === this.limit) return;
    this.limit = limit;
    for (const listener of this.listeners) listener(limit);
  }

  onSample(sample: LimitSample): void {
    this.samples.push({ ...sample });
  }
}
