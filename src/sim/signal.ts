type AbortListener = ((event: { type: 'abort'; target: CallerSignal }) => void) | { handleEvent(event: unknown): void };

/**
 * The signal a simulated caller aborts when it stops waiting. Policies see an AbortSignal
 * (they use `aborted`, `reason` and abort listeners); it skips the EventTarget machinery,
 * which costs microseconds per listener in Node and would dominate a run where every
 * attempt has a caller deadline. Code that needs a platform signal (`AbortSignal.any`,
 * `fetch`) has none in a simulation: the downstream is the model's own.
 */
export class CallerSignal {
  aborted = false;
  reason: unknown = undefined;
  onabort: ((event: unknown) => void) | null = null;
  private listeners: AbortListener[] | undefined = undefined;

  addEventListener(type: string, listener: AbortListener | null): void {
    if (type !== 'abort' || listener === null || this.aborted) return;
    const list = (this.listeners ??= []);
    if (!list.includes(listener)) list.push(listener);
  }

  removeEventListener(type: string, listener: AbortListener | null): void {
    const list = this.listeners;
    if (type !== 'abort' || list === undefined || listener === null) return;
    const index = list.indexOf(listener);
    if (index !== -1) list.splice(index, 1);
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  /** Aborts once: listeners run in the order they were added (each at most once). */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const list = this.listeners;
    this.listeners = undefined;
    const event = { type: 'abort' as const, target: this };
    if (this.onabort !== null) this.onabort(event);
    if (list !== undefined) {
      for (const listener of list) {
        if (typeof listener === 'function') listener(event);
        else listener.handleEvent(event);
      }
    }
  }
}
