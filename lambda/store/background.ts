/**
 * Marks store calls made off the request path (batched flushes, proactive lease top-ups, give-backs), so
 * the benchmark and tests can count DynamoDB calls on and off the request path. AsyncLocalStorage follows
 * the work through its awaits; calls outside `inBackground` count as the request's own.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

const background = new AsyncLocalStorage<true>();

export function inBackground<T>(fn: () => T): T {
  return background.run(true, fn);
}

export function isBackground(): boolean {
  return background.getStore() === true;
}
