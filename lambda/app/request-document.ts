/**
 * The request's stdout document: its log line and its EMF metrics as one JSON object, one line.
 *
 * CloudWatch's embedded metric format lets a log event carry any other fields beside `_aws`, and one
 * `_aws` block carry several directives that share the top-level values. So the request log line, the
 * request group, the attribution group and (for an error) the error-class group of the metrics catalog
 * go out as one line: one JSON.stringify of one plain object, one stdout write. Powertools would write
 * each of them apart (three or four serialisations and writes, and its per-call env reads and stores);
 * telemetry.ts says what that cost and why the rare paths still use it.
 *
 * A key that is both a log field and an EMF member would have one value for two meanings, so when that
 * happens the two go out as separate lines instead: nothing is overwritten.
 */
import { METRICS, NO_TARGET, type DimensionName, type MetricGroup, type MetricKey } from '../core/metrics-catalog';

export interface EmfDirective {
  Namespace: string;
  Dimensions: ReadonlyArray<readonly string[]>;
  Metrics: Array<{ Name: string; Unit: string }>;
}

export type DocumentFields = Record<string, unknown>;

/**
 * The EMF members of `groups` as top-level fields: `_aws` with one directive per group that has a finite
 * value, the dimension values its sets name (`none` when missing), and the metric values. A metric in two
 * groups has one value, taken from the one `values` record, so the directives cannot disagree. Undefined
 * when no group has a value.
 */
export function emfMembers(
  namespace: string,
  groups: readonly MetricGroup[],
  dims: Partial<Record<DimensionName, string>>,
  values: Partial<Record<MetricKey, number>>,
  timestamp: number,
): DocumentFields | undefined {
  const directives: EmfDirective[] = [];
  const members: DocumentFields = { _aws: undefined };
  for (const group of groups) {
    const metrics: EmfDirective['Metrics'] = [];
    for (const key of group.metrics) {
      const value = values[key];
      if (value === undefined || !Number.isFinite(value)) continue;
      const { name, unit } = METRICS[key];
      metrics.push({ Name: name, Unit: unit });
      members[name] = value;
    }
    if (metrics.length === 0) continue;
    for (const set of group.dimensionSets) for (const dim of set) members[dim] = dims[dim] ?? NO_TARGET;
    directives.push({ Namespace: namespace, Dimensions: group.dimensionSets, Metrics: metrics });
  }
  if (directives.length === 0) return undefined;
  members._aws = { Timestamp: timestamp, CloudWatchMetrics: directives };
  return members;
}

/**
 * The stdout text for a log line and EMF members, either of which may be absent: one line holding both,
 * or two lines when they share a key. Empty when both are absent. Mutates `log` (it is built for this).
 */
export function documentLines(log: DocumentFields | undefined, emf: DocumentFields | undefined): string {
  if (!log) return emf ? JSON.stringify(emf) + '\n' : '';
  if (!emf) return JSON.stringify(log) + '\n';
  for (const key in emf) {
    if (Object.hasOwn(log, key)) return JSON.stringify(log) + '\n' + JSON.stringify(emf) + '\n';
  }
  return JSON.stringify(Object.assign(log, emf)) + '\n';
}
