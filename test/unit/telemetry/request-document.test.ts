import { documentLines, emfMembers } from '../../../lambda/app/request-document';
import { METRICS, metricGroups } from '../../../lambda/core/metrics-catalog';
import { expectValidEmf } from './stdout-capture';

const UNITS = new Map<string, string>(Object.values(METRICS).map((m) => [m.name, m.unit]));
const groups = metricGroups({ featureDimension: true, teamDimension: true });
const parse = (text: string) => text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('Request document', () => {
  describe('Method: emfMembers', () => {
    it('writes one value per metric for all the directives that name it, and the dimension values their sets name', () => {
      const doc = emfMembers('NS', [groups.request, groups.attribution!], { Service: 's', Model: 'm', Feature: 'f' }, { requests: 1, inputTokens: 7, costUsd: 0.5 }, Date.now())!;
      expectValidEmf(doc, UNITS);
      const [request, attribution] = (doc._aws as { CloudWatchMetrics: Array<{ Metrics: Array<{ Name: string }> }> }).CloudWatchMetrics;
      expect(request.Metrics.map((m) => m.Name)).toEqual(['Requests', 'InputTokens', 'CostUSD']);
      expect(attribution.Metrics.map((m) => m.Name)).toEqual(['Requests', 'InputTokens', 'CostUSD']);
      // Missing dimension values are `none`, never absent (EMF needs every named dimension at the top level).
      expect(doc).toMatchObject({ Requests: 1, InputTokens: 7, CostUSD: 0.5, Service: 's', Model: 'm', Provider: 'none', Feature: 'f', Team: 'none' });
    });

    it('leaves out non-finite values, a directive with none, and the whole document when nothing is left', () => {
      const doc = emfMembers('NS', [groups.request, groups.budget], { Service: 's' }, { requests: 1, latency: NaN, costUsd: undefined, budgetUtilization: Infinity }, 1)!;
      expect(Object.keys(doc).sort()).toEqual(['Model', 'Provider', 'Requests', 'Service', '_aws']);
      expect(emfMembers('NS', [groups.budget], { Service: 's', Budget: 'b' }, { requests: 1 }, 1)).toBeUndefined();
    });
  });

  describe('Method: documentLines', () => {
    const emf = () => emfMembers('NS', [groups.request], { Service: 's' }, { requests: 1 }, Date.now());

    it('writes the log fields and the EMF members as one line', () => {
      const lines = parse(documentLines({ message: 'request', inputTokens: 3 }, emf()));
      expect(lines).toHaveLength(1);
      expectValidEmf(lines[0], UNITS);
      expect(lines[0]).toMatchObject({ message: 'request', inputTokens: 3, Requests: 1 });
    });

    it('writes two intact lines when a log field has an EMF member\'s name, so neither value is lost', () => {
      const text = documentLines({ message: 'request', Requests: 'log value', Service: undefined }, emf());
      expect(text.endsWith('\n')).toBe(true);
      const [log, doc] = parse(text);
      expect(log).toEqual({ message: 'request', Requests: 'log value' });
      expectValidEmf(doc, UNITS);
      expect(doc).toMatchObject({ Requests: 1, Service: 's' });
      expect(doc).not.toHaveProperty('message');
    });

    it('writes whichever part is present, and nothing when neither is', () => {
      expect(parse(documentLines(undefined, emf()))).toEqual([expect.objectContaining({ Requests: 1 })]);
      expect(parse(documentLines({ message: 'request' }, undefined))).toEqual([{ message: 'request' }]);
      expect(documentLines(undefined, undefined)).toBe('');
    });
  });
});
