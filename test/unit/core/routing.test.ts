import { parseConfig } from '../../../lambda/core/config';
import { BadRequestError, ModelNotFoundError, UnsupportedParameterError, UpstreamError } from '../../../lambda/core/errors';
import { backoffMs, ClientAbortedError, resolveModel, runWithFallback } from '../../../lambda/core/routing';

const config = parseConfig({
  providers: {
    a: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:1/v1' },
    b: { kind: 'openai-compatible', baseUrl: 'http://127.0.0.1:2/v1' },
  },
  models: {
    chat: {
      targets: [
        { provider: 'a', model: 'm-a', timeoutMs: 50, retries: 1 },
        { provider: 'b', model: 'm-b', timeoutMs: 50 },
      ],
    },
  },
  server: { retryBaseDelayMs: 1 },
});
const targets = config.models.chat.targets;
const opts = () => ({ clientSignal: new AbortController().signal, retryBaseDelayMs: 1, random: () => 0.5 });

describe('Function: resolveModel', () => {
  it('resolves an alias to its ordered targets', () => {
    expect(resolveModel(config, 'chat').config.targets.map((t) => t.provider)).toEqual(['a', 'b']);
  });
  it('resolves provider/model addressing for a configured provider', () => {
    const m = resolveModel(config, 'b/some-model');
    expect(m.config.targets).toEqual([{ provider: 'b', model: 'some-model', timeoutMs: 60000, retries: 0 }]);
  });
  it('does not resolve names of Object.prototype properties', () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'constructor/x', '__proto__/x']) {
      expect(() => resolveModel(config, name)).toThrow(ModelNotFoundError);
    }
  });

  it('throws model_not_found for unknown models and unknown providers', () => {
    expect(() => resolveModel(config, 'nope')).toThrow(ModelNotFoundError);
    expect(() => resolveModel(config, 'zzz/m')).toThrow(ModelNotFoundError);
    expect(() => resolveModel(config, 'a/')).toThrow(ModelNotFoundError);
  });
});

describe('Function: runWithFallback', () => {
  it('skips a target that cannot honour a field, without retrying it, and serves from the next', async () => {
    const seen: string[] = [];
    const result = await runWithFallback(targets, async ({ target }) => {
      seen.push(target.provider);
      if (target.provider === 'a') throw new UnsupportedParameterError('a', 'seed');
      return 'ok';
    }, opts());
    expect(seen).toEqual(['a', 'b']);
    expect(result).toMatchObject({ value: 'ok', fallback: true });
  });

  it('answers 400 unsupported_parameter when no target can honour the field', async () => {
    const err = await runWithFallback(targets, async ({ target }) => {
      throw new UnsupportedParameterError(target.provider, 'seed');
    }, opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedParameterError);
    expect((err as UnsupportedParameterError).status).toBe(400);
    expect((err as UnsupportedParameterError).param).toBe('seed');
  });

  it('reports the real upstream failure when the fallback target cannot honour a field', async () => {
    const err = await runWithFallback(targets, async ({ target }) => {
      if (target.provider === 'a') throw new UpstreamError('a', 'down', { upstreamStatus: 503, retryable: true });
      throw new UnsupportedParameterError('b', 'seed');
    }, opts()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
  });

  it('retries the same target, then falls back to the next on retryable errors', async () => {
    const seen: string[] = [];
    const result = await runWithFallback(
      targets,
      async ({ target }) => {
        seen.push(target.provider);
        if (target.provider === 'a') throw new UpstreamError('a', 'down', { upstreamStatus: 503 });
        return 'ok';
      },
      opts(),
    );
    expect(seen).toEqual(['a', 'a', 'b']);
    expect(result).toMatchObject({ value: 'ok', attempts: 3, fallback: true, target: { provider: 'b' } });
  });

  it('falls back when a target does not answer within its timeout', async () => {
    const result = await runWithFallback(
      targets,
      ({ target, signal }) =>
        target.provider === 'a'
          ? new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))))
          : Promise.resolve('b-served'),
      opts(),
    );
    expect(result.value).toBe('b-served');
  });

  it('stops at a non-retryable error: another provider would reject it too', async () => {
    const seen: string[] = [];
    await expect(
      runWithFallback(
        targets,
        async ({ target }) => {
          seen.push(target.provider);
          throw new BadRequestError('bad field');
        },
        opts(),
      ),
    ).rejects.toBeInstanceOf(BadRequestError);
    expect(seen).toEqual(['a']);
  });

  it('surfaces the last error when every target fails', async () => {
    const err = await runWithFallback(
      targets,
      async ({ target }) => {
        throw new UpstreamError(target.provider, 'down', { upstreamStatus: target.provider === 'a' ? 500 : 429 });
      },
      opts(),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).status).toBe(429);
  });

  it('gives up at once when the client has gone', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(runWithFallback(targets, async () => 'x', { ...opts(), clientSignal: ac.signal })).rejects.toBeInstanceOf(
      ClientAbortedError,
    );
  });
});

describe('Function: backoffMs', () => {
  it('grows exponentially with full jitter between half and all of the ceiling', () => {
    expect(backoffMs(100, 1, () => 0)).toBe(50);
    expect(backoffMs(100, 1, () => 1)).toBe(100);
    expect(backoffMs(100, 3, () => 1)).toBe(400);
  });
});
