/** One waiter at a time: `wait()` resolves at the next `notify()` (a notify with nobody waiting is a no-op). */
export interface Wakeup {
  wait(): Promise<void>;
  notify(): void;
}

export function wakeup(): Wakeup {
  let wake: (() => void) | undefined;
  return {
    wait: () => new Promise<void>((resolve) => (wake = resolve)),
    notify() {
      const w = wake;
      wake = undefined;
      w?.();
    },
  };
}
