/**
 * What esbuild bakes into every function (`define`): the validated config, and the catalog prices of every
 * target it routes to (lambda/core/price-catalog.ts), so a cold container prices its requests without
 * loading the ~480 KB catalog. Used by the CDK construct and by the benchmark (bench/bundle.ts) alike.
 */
import type { TollgateConfig } from '../lambda/core/config';
import { priceSnapshot } from '../lambda/core/price-catalog';

export function bakedDefines(config: TollgateConfig): Record<string, string> {
  return {
    __TOLLGATE_CONFIG__: JSON.stringify(JSON.stringify(config)),
    __TOLLGATE_PRICE_SNAPSHOT__: JSON.stringify(JSON.stringify(priceSnapshot(config))),
  };
}
