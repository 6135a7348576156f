/**
 * `reasoning_effort` on chat completions (and `reasoning.effort` on /v1/responses, which translates to it)
 * for Anthropic's models: extended thinking with a budget per effort (1,024 / 2,048 / 4,096 tokens) on
 * Anthropic and on Bedrock (Converse additionalModelRequestFields), the thinking back as `reasoning_content`
 * deltas; refused for a model without thinking or a budget that does not fit below the priced cap. The
 * official `openai` client against the local gateway and the provider doubles.
 */
import OpenAI, { APIError } from 'openai';
import { startRig, type Rig } from './support/harness';

let rig: Rig;
beforeAll(async () => {
  rig = await startRig({
    extend: () => ({
      models: {
        haiku: { maxOutputTokens: 8000, targets: [{ provider: 'bedrock', model: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' }] },
        'claude-big': { maxOutputTokens: 8000, targets: [{ provider: 'anthropic', model: 'claude-sonnet-4-5-20250929' }] },
      },
    }),
  });
}, 60_000);
afterAll(() => rig?.close());

type ReasoningDelta = OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta & { reasoning_content?: string; thinking_blocks?: Array<{ type: string; signature?: string }> };

describe('Chat completions: reasoning_effort on Anthropic models', () => {
  it('becomes Converse thinking on Bedrock, streamed back as reasoning_content and the signed block', async () => {
    rig.bedrock.setDefault({ kind: 'ok', text: 'Four.', thinking: { text: 'Two plus two is four.', signature: 'sig-r' }, usage: { promptTokens: 20, completionTokens: 300 } });
    const { apiKey } = await rig.newKey();
    const before = rig.bedrock.requests.length;
    const stream = await rig.client(apiKey).chat.completions.create({ model: 'haiku', messages: [{ role: 'user', content: '2+2?' }], reasoning_effort: 'low', stream: true, stream_options: { include_usage: true } });
    let reasoning = '';
    let text = '';
    const signatures: string[] = [];
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta as ReasoningDelta | undefined;
      reasoning += delta?.reasoning_content ?? '';
      text += delta?.content ?? '';
      for (const b of delta?.thinking_blocks ?? []) if (b.signature) signatures.push(b.signature);
      usage = chunk.usage ?? usage;
    }
    expect([reasoning, text, signatures]).toEqual(['Two plus two is four.', 'Four.', ['sig-r']]);
    expect(usage).toMatchObject({ completion_tokens: 300 });
    expect(rig.bedrock.requests[before].body).toMatchObject({ inferenceConfig: { maxTokens: 8000 }, additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 1024 } } });
  });

  it('becomes Anthropic thinking, from chat and from /v1/responses reasoning.effort', async () => {
    rig.anthropic.setDefault({ kind: 'ok', text: 'ok', usage: { promptTokens: 10, completionTokens: 5 } });
    const { apiKey } = await rig.newKey();
    const client = rig.client(apiKey);
    const before = rig.anthropic.requests.length;
    await client.chat.completions.create({ model: 'claude-big', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'medium' });
    await client.responses.create({ model: 'claude-big', input: 'x', reasoning: { effort: 'high' } });
    expect(rig.anthropic.requests.slice(before).map((r) => (r.body as { thinking?: unknown }).thinking)).toEqual([
      { type: 'enabled', budget_tokens: 2048 },
      { type: 'enabled', budget_tokens: 4096 },
    ]);
  });

  it('is refused before any upstream call for a model without thinking, or a budget above the capped max_tokens', async () => {
    const { apiKey } = await rig.newKey();
    const client = rig.client(apiKey);
    const before = rig.bedrock.requests.length + rig.anthropic.requests.length;
    const errorOf = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as APIError);
    const nova = await errorOf(client.chat.completions.create({ model: 'nova', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'low' }));
    expect(nova).toMatchObject({ status: 400, code: 'unsupported_parameter', param: 'reasoning_effort' });
    // 'claude' caps output at 1,000 tokens: no room for a 2,048-token thinking budget.
    const capped = await errorOf(client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'x' }], reasoning_effort: 'medium' }));
    expect(capped).toMatchObject({ status: 400, code: 'unsupported_parameter', param: 'reasoning_effort' });
    expect(capped?.message).toContain('1000');
    expect(rig.bedrock.requests.length + rig.anthropic.requests.length).toBe(before);
  });
});
