/**
 * `tollgate prices <provider/model>`: the unit prices the gateway bills a model at, where they come from
 * (config.pricing, or the built-in catalog with its version and matching entry), the output cap a request
 * without max_tokens gets, and a worked cost for given token counts, computed as the gateway does.
 */
import { modelOutputCeiling } from '../../core/output-cap';
import { costMicros, pricesAt, priceQuote, type PriceQuote } from '../../core/pricing';
import type { PriceConfig } from '../../core/config';
import { NotFound, positionals, UsageError } from '../args';
import { defineCommand } from '../command';
import { renderJson, usdFromMicros } from '../format';

const COUNT = /^\d{1,10}$/;

function tokens(value: string | undefined, flag: string): number {
  if (value === undefined) return 0;
  if (!COUNT.test(value)) throw new UsageError(`${flag} takes a whole number of tokens, not '${value}'.`, 'prices');
  return Number(value);
}

function unitLine(p: PriceConfig): string {
  const cache = (v: number | undefined) => (v === undefined ? 'input price' : `$${v}`);
  return `input $${p.input}, output $${p.output}, cache read ${cache(p.cacheRead)}, cache write ${cache(p.cacheWrite)}`;
}

function sourceLine(q: PriceQuote): string {
  if (q.source === 'config') return 'config.pricing';
  return `catalog ${q.catalog!.version} (entry ${q.catalog!.provider}/${q.catalog!.model})`;
}

export const prices = defineCommand({
  name: 'prices',
  summary: 'unit prices of a provider/model, their source, and a worked cost',
  help: `Usage: tollgate prices <provider/model> [--input <n>] [--output <n>] [--cache-read <n>] [--cache-write <n>] [--json]

Prices are USD per million tokens. <provider> is a provider id from the config ($TOLLGATE_CONFIG, default
tollgate.config.json); <model> the upstream model id. config.pricing wins over the built-in catalog.
--input counts all input tokens, cache reads and writes included (OpenAI's convention).

Example:
  tollgate prices bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0 --input 250000 --output 1000`,
  options: {
    input: { type: 'string' },
    output: { type: 'string' },
    'cache-read': { type: 'string' },
    'cache-write': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(parsed, ctx) {
    const v = parsed.values;
    const [name] = positionals(parsed, ['provider/model'], 'prices');
    const slash = name.indexOf('/');
    if (slash <= 0 || slash === name.length - 1) throw new UsageError(`Name a model as <provider>/<model>, e.g. openai/gpt-4o-mini (got '${name}').`, 'prices');
    const provider = name.slice(0, slash);
    const model = name.slice(slash + 1);
    const usage = {
      inputTokens: tokens(v.input, '--input'),
      outputTokens: tokens(v.output, '--output'),
      cacheReadTokens: tokens(v['cache-read'], '--cache-read'),
      cacheWriteTokens: tokens(v['cache-write'], '--cache-write'),
      reasoningTokens: 0,
    };
    if (usage.cacheReadTokens + usage.cacheWriteTokens > usage.inputTokens) {
      throw new UsageError('--cache-read and --cache-write are part of --input: they cannot add up to more.', 'prices');
    }
    const quote = priceQuote(ctx.settings().config, provider, model);
    if (!quote) {
      throw new NotFound(`No price is known for ${name}: requests to it are refused (400 model_not_priced). Add it to config.pricing, or set meterUnpricedAtZero on the provider.`);
    }
    const micros = costMicros(usage, quote.price);
    const applied = pricesAt(quote.price, usage.inputTokens);
    const maxOutput = modelOutputCeiling({}, { model });
    if (v.json) {
      ctx.io.stdout(renderJson({ model: name, source: quote.source, catalog: quote.catalog, prices: quote.price, maxOutputTokens: maxOutput, usage, costMicros: micros, costUsd: usdFromMicros(micros) }));
      return;
    }
    const uncached = usage.inputTokens - usage.cacheReadTokens - usage.cacheWriteTokens;
    const lines = [
      `${name}`,
      `  source:            ${sourceLine(quote)}`,
      `  USD per 1M tokens: ${unitLine(quote.price)}`,
      ...(quote.price.tiers ?? []).map((t) => `  above ${t.aboveInputTokens} input tokens: ${unitLine(t)}`),
      `  output cap without max_tokens: ${maxOutput} tokens`,
      '',
      `Worked cost (${usage.inputTokens} input of which ${usage.cacheReadTokens} cache read and ${usage.cacheWriteTokens} cache write, ${usage.outputTokens} output):`,
      `  ${uncached} × $${applied.input} + ${usage.cacheReadTokens} × $${applied.cacheRead ?? applied.input} + ${usage.cacheWriteTokens} × $${applied.cacheWrite ?? applied.input} + ${usage.outputTokens} × $${applied.output}, per 1M tokens`,
      `  = ${micros} micro-USD = $${usdFromMicros(micros)} (exact, rounded up to the micro-dollar)`,
    ];
    ctx.io.stdout(`${lines.join('\n')}\n`);
  },
});
