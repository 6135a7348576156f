/**
 * What validating a chat request costs, zod alone against the hand-written fast path
 * (lambda/core/chat-request-fast.ts), per call, for the bench's body and a few typical shapes:
 *
 *   npx tsx bench/validate-cost.ts
 *
 * Two regimes. "hot": a tight loop over fresh copies of the body (JIT warm, caches warm; the floor).
 * "in place": each timed call follows a write over 8 MB of unrelated memory, so the validator's code and
 * data are evicted from the CPU caches as they are between requests in the gateway process (where zod
 * measured 130–250 µs). Both validators get the same treatment, alternating, so machine noise lands on
 * both. Light by design (a few seconds): the lead runs CPU benchmarks on the same 2 cores.
 */
import { validateChatRequest, validateChatRequestWithZod } from '../lambda/app/validate-request';
import { fastChatRequest } from '../lambda/core/chat-request-fast';
import { benchChatBody } from './harness';

const SHAPES: Record<string, string> = {
  'bench body (stream)': benchChatBody('bench-model', true),
  'openai client, 6 turns + params': JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You are a helpful assistant. Answer briefly.' },
      { role: 'user', content: 'What is a toll bridge?' },
      { role: 'assistant', content: 'A bridge you pay to cross.' },
      { role: 'user', content: 'Name one in California.' },
      { role: 'assistant', content: 'The Golden Gate Bridge.' },
      { role: 'user', content: 'How much is the toll?' },
    ],
    temperature: 0.7,
    max_completion_tokens: 256,
    stream: true,
    stream_options: { include_usage: true },
  }),
  'AI SDK style, all scalars': JSON.stringify({
    model: 'openai/gpt-4.1',
    max_tokens: 1024,
    temperature: 0,
    top_p: 1,
    frequency_penalty: 0,
    presence_penalty: 0,
    seed: 42,
    stop: ['\n\n'],
    user: 'user-1234',
    metadata: { feature: 'search', tenant: 'acme' },
    messages: [
      { role: 'developer', content: 'Return JSON only.' },
      { role: 'user', content: [{ type: 'text', text: 'List three colours.' }] },
    ],
  }),
  '40 turns of chat': JSON.stringify({
    model: 'claude-sonnet',
    messages: Array.from({ length: 40 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i}: ${'lorem ipsum '.repeat(20)}` })),
    max_tokens: 512,
  }),
};

const EVICT = new Uint8Array(8 * 2 ** 20);
let sink = 0;
function evictCaches(): void {
  for (let i = 0; i < EVICT.length; i += 64) EVICT[i] = (EVICT[i] + 1) & 0xff;
  sink ^= EVICT[sink & 0xffff];
}

type Validate = (body: unknown) => unknown;
const VALIDATORS: Array<[string, Validate]> = [
  ['zod', validateChatRequestWithZod],
  ['fast', validateChatRequest],
  // What the timing itself costs after a flush (the clock's own misses): the floor of the in-place columns.
  ['floor', (body) => body],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** ns per call over `calls` fresh copies, `rounds` times alternating; the median round. */
function hot(json: string, validate: Validate, calls: number): number {
  const bodies = Array.from({ length: calls }, () => JSON.parse(json) as unknown);
  const t0 = process.hrtime.bigint();
  for (const b of bodies) validate(b);
  return Number(process.hrtime.bigint() - t0) / calls;
}

/** ns of one call right after the caches were flushed. */
function inPlace(json: string, validate: Validate): number {
  const body = JSON.parse(json) as unknown;
  evictCaches();
  const t0 = process.hrtime.bigint();
  validate(body);
  return Number(process.hrtime.bigint() - t0);
}

const fmt = (ns: number) => (ns >= 10_000 ? `${(ns / 1000).toFixed(0)} µs` : `${(ns / 1000).toFixed(2)} µs`);

function main(): void {
  const started = Date.now();
  console.log(`validate-cost: ${process.version}, zod alone vs the fast path (validateChatRequest), median per call`);
  console.log(
    `${'shape'.padEnd(34)} ${'hot zod'.padStart(10)} ${'hot fast'.padStart(10)} ${'ratio'.padStart(6)}   ${'in place zod'.padStart(12)} ${'in place fast'.padStart(13)} ${'ratio'.padStart(6)} ${'(floor)'.padStart(9)}`,
  );
  for (const [name, json] of Object.entries(SHAPES)) {
    if (!fastChatRequest(JSON.parse(json))) throw new Error(`${name}: the fast path does not take this shape`);
    const hotNs = new Map<string, number[]>(VALIDATORS.map(([v]) => [v, []]));
    const placeNs = new Map<string, number[]>(VALIDATORS.map(([v]) => [v, []]));
    for (let round = 0; round < 21; round++) {
      for (let k = 0; k < VALIDATORS.length; k++) {
        const [v, validate] = VALIDATORS[(round + k) % VALIDATORS.length];
        hotNs.get(v)!.push(hot(json, validate, 400));
      }
    }
    for (let i = 0; i < 300; i++) {
      for (let k = 0; k < VALIDATORS.length; k++) {
        const [v, validate] = VALIDATORS[(i + k) % VALIDATORS.length];
        placeNs.get(v)!.push(inPlace(json, validate));
      }
    }
    const [hz, hf] = [median(hotNs.get('zod')!), median(hotNs.get('fast')!)];
    const [pz, pf, floor] = [median(placeNs.get('zod')!), median(placeNs.get('fast')!), median(placeNs.get('floor')!)];
    console.log(
      `${name.padEnd(34)} ${fmt(hz).padStart(10)} ${fmt(hf).padStart(10)} ${(hz / hf).toFixed(1).padStart(5)}x   ${fmt(pz).padStart(12)} ${fmt(pf).padStart(13)} ${(pz / pf).toFixed(1).padStart(5)}x ${fmt(floor).padStart(9)}`,
    );
  }
  console.log(`ratio: zod / fast, medians (hot: 21 rounds of 400 calls; in place: 300 calls each). ${((Date.now() - started) / 1000).toFixed(1)} s${sink < 0 ? '' : ''}`);
}

main();
