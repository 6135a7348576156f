/**
 * The local server's stand-in for the hourly forecaster Lambda (handlers/forecaster.ts): the same run
 * (store/forecast-alerts.ts: "budget X will be exhausted on <date>", once per budget and period) on a
 * timer. Unref'd, so it never keeps the process alive; `stop()` clears it and waits for a run in flight,
 * so the store is not closed under it. Without an alert sink the alert is one line on stderr.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { BudgetAlertSink, BudgetForecastEvent } from '../core/budgets';
import { forecastRunner } from '../store/forecast-alerts';

export interface ForecastTimerOptions {
  client: DynamoDBClient;
  tables: { keys: string; ledger: string };
  globalShards: number;
  intervalMs: number;
  sink?: BudgetAlertSink;
  now: () => number;
  onError: (err: unknown, context: string) => void;
}

export interface ForecastTimer {
  stop(): Promise<void>;
}

export function startForecastTimer(opts: ForecastTimerOptions): ForecastTimer {
  const run = forecastRunner({ client: opts.client, tables: opts.tables, globalShards: opts.globalShards, sink: opts.sink ?? stderrForecastSink });
  let running: Promise<unknown> = Promise.resolve();
  let busy = false;
  const timer = setInterval(() => {
    // A slow store must not stack runs up.
    if (busy) return;
    busy = true;
    running = run(opts.now())
      .catch((err: unknown) => opts.onError(err, 'forecast'))
      .finally(() => {
        busy = false;
      });
  }, opts.intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

const stderrForecastSink: BudgetAlertSink = {
  budgetThresholdCrossed: () => Promise.resolve(),
  budgetExhaustionForecast(e: BudgetForecastEvent) {
    process.stderr.write(`${JSON.stringify({ level: 'WARN', message: `budget ${e.budget} will be exhausted on ${e.exhaustsAt}`, ...e })}\n`);
    return Promise.resolve();
  },
};
