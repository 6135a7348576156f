import { BadRequestError } from '../../../lambda/core/errors';
import { validateChatRequest } from '../../../lambda/app/validate-request';

const ok = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };

function badRequest(body: unknown): BadRequestError {
  try {
    validateChatRequest(body);
  } catch (e) {
    if (e instanceof BadRequestError) return e;
    throw e;
  }
  throw new Error('expected a BadRequestError');
}

describe('Function: validateChatRequest', () => {
  it('accepts text, image parts, tools and tool results', () => {
    const req = validateChatRequest({
      model: 'm',
      messages: [
        { role: 'developer', content: 'be brief' },
        { role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: '42' },
      ],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      tool_choice: 'auto',
      response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object' } } },
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: 10,
      metadata: { feature: 'search' },
    });
    expect(req.messages).toHaveLength(4);
  });

  it('names a missing required field', () => {
    const e = badRequest({ messages: ok.messages });
    expect(e.status).toBe(400);
    expect(e.param).toBe('model');
    expect(e.code).toBe('missing_required_parameter');
  });

  it('names a wrong-typed nested field with its path', () => {
    const e = badRequest({ ...ok, messages: [{ role: 'user', content: 42 }] });
    expect(e.param).toBe('messages[0].content');
  });

  it('rejects unknown top-level arguments as OpenAI does', () => {
    const e = badRequest({ ...ok, temprature: 1 });
    expect(e.message).toContain('Unrecognized request argument supplied: temprature');
    expect(e.code).toBe('unknown_parameter');
  });

  it('rejects an empty message list, out-of-range temperature and non-object bodies', () => {
    expect(badRequest({ ...ok, messages: [] }).param).toBe('messages');
    expect(badRequest({ ...ok, temperature: 3 }).param).toBe('temperature');
    expect(badRequest([1, 2]).code).toBe('invalid_type');
    expect(badRequest('x').code).toBe('invalid_type');
  });

  it('rejects a tool message without tool_call_id and an unknown role', () => {
    expect(badRequest({ ...ok, messages: [{ role: 'tool', content: 'x' }] }).param).toBe('messages[0].tool_call_id');
    expect(badRequest({ ...ok, messages: [{ role: 'wizard', content: 'x' }] }).param).toBe('messages[0].role');
  });

  it('refuses JSON nested deeper than the limit with a 400 instead of overflowing the stack later', () => {
    let deep: unknown = {};
    for (let i = 0; i < 5000; i++) deep = { a: [deep] };
    const body = { model: 'm', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 't', parameters: deep } }] };
    expect(() => validateChatRequest(body)).toThrow(expect.objectContaining({ status: 400, code: 'invalid_value' }));
  });

  it('refuses tool_choice without tools, as OpenAI does', () => {
    for (const tools of [undefined, []]) {
      expect(() => validateChatRequest({ model: 'm', messages: [{ role: 'user', content: 'x' }], tool_choice: 'required', tools })).toThrow(
        expect.objectContaining({ status: 400, param: 'tool_choice' }),
      );
    }
  });
});
