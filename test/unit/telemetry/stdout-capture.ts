/**
 * Captures what telemetry writes (the request's line on process.stdout; Powertools, through its own
 * Console, on process.stdout and, for WARN and ERROR log lines, process.stderr; not the global console)
 * and splits it into EMF documents and log lines. In Lambda both streams land in the function's log
 * group. The request's line is both: a log line (`message`) and an EMF document (`_aws`).
 */
export interface EmfDirective {
  Namespace: string;
  Dimensions: string[][];
  Metrics: Array<{ Name: string; Unit: string }>;
}
export interface EmfDocument {
  _aws: { Timestamp: number; CloudWatchMetrics: EmfDirective[] };
  [key: string]: unknown;
}
export type LogLine = Record<string, unknown> & { level: string; message: string };

export interface StdoutCapture {
  readonly raw: string[];
  /** Every line that carries `_aws`. */
  emf(): EmfDocument[];
  /** Every line that carries a `message` (the request's line also carries `_aws`). */
  logs(): LogLine[];
  /** Every line, parsed. */
  lines(): Array<Record<string, unknown>>;
  clear(): void;
  restore(): void;
}

export function captureStdout(): StdoutCapture {
  const raw: string[] = [];
  const record = (chunk: string | Uint8Array) => {
    raw.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  };
  const spies = [jest.spyOn(process.stdout, 'write').mockImplementation(record), jest.spyOn(process.stderr, 'write').mockImplementation(record)];
  const parsed = () =>
    raw
      .join('')
      .split('\n')
      .filter((l) => l.trim().length > 0)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    raw,
    emf: () => parsed().filter((o): o is EmfDocument => typeof o._aws === 'object'),
    logs: () => parsed().filter((o): o is LogLine => typeof o.message === 'string'),
    lines: parsed,
    clear: () => void (raw.length = 0),
    restore: () => spies.forEach((s) => s.mockRestore()),
  };
}

/** The one directive of an EMF document with one (Powertools always writes exactly one). */
export function directive(doc: EmfDocument): EmfDirective {
  expect(doc._aws.CloudWatchMetrics).toHaveLength(1);
  return doc._aws.CloudWatchMetrics[0];
}

/** The directive of a document that publishes a metric under a given dimension set, if any. */
export function directiveFor(doc: EmfDocument, metric: string, dims: string[]): EmfDirective | undefined {
  return doc._aws.CloudWatchMetrics.find(
    (dir) => dir.Metrics.some((m) => m.Name === metric) && dir.Dimensions.some((s) => s.join(',') === dims.join(',')),
  );
}

/** The EMF document carrying a metric under a given dimension set, if any. */
export function findDoc(docs: EmfDocument[], metric: string, dims: string[]): EmfDocument | undefined {
  return docs.find((d) => directiveFor(d, metric, dims) !== undefined);
}

const CLOUDWATCH_UNITS = new Set([
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes', 'Bits', 'Kilobits',
  'Megabits', 'Gigabits', 'Terabits', 'Percent', 'Count', 'Bytes/Second', 'Kilobytes/Second', 'Megabytes/Second',
  'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second', 'Kilobits/Second', 'Megabits/Second', 'Gigabits/Second',
  'Terabits/Second', 'Count/Second', 'None',
]);

/**
 * Checks one document against the EMF specification
 * (docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
 * `_aws.Timestamp` in epoch milliseconds; a non-empty `CloudWatchMetrics` array of directives, each with a
 * namespace, dimension sets of at most 30 names and at most 100 metrics with a CloudWatch unit; every
 * dimension a directive names has a string value at the top level, every metric a number. `units` maps a
 * metric name to the unit it must have (the catalog's).
 */
export function expectValidEmf(doc: Record<string, unknown>, units: ReadonlyMap<string, string>): void {
  const aws = doc._aws as EmfDocument['_aws'];
  expect(aws).toEqual(expect.objectContaining({ Timestamp: expect.any(Number), CloudWatchMetrics: expect.any(Array) }));
  expect(Number.isInteger(aws.Timestamp)).toBe(true);
  expect(Math.abs(aws.Timestamp - Date.now())).toBeLessThan(60_000);
  expect(aws.CloudWatchMetrics.length).toBeGreaterThan(0);
  for (const dir of aws.CloudWatchMetrics) {
    expect(Object.keys(dir).sort()).toEqual(['Dimensions', 'Metrics', 'Namespace']);
    expect(typeof dir.Namespace).toBe('string');
    expect(dir.Namespace.length).toBeGreaterThan(0);
    expect(Array.isArray(dir.Dimensions)).toBe(true);
    for (const set of dir.Dimensions) {
      expect(set.length).toBeGreaterThan(0);
      expect(set.length).toBeLessThanOrEqual(30);
      for (const name of set) {
        expect(typeof doc[name]).toBe('string');
        expect((doc[name] as string).length).toBeGreaterThan(0);
      }
    }
    expect(dir.Metrics.length).toBeGreaterThan(0);
    expect(dir.Metrics.length).toBeLessThanOrEqual(100);
    for (const metric of dir.Metrics) {
      expect(Object.keys(metric).sort()).toEqual(['Name', 'Unit']);
      expect(CLOUDWATCH_UNITS.has(metric.Unit)).toBe(true);
      expect(metric.Unit).toBe(units.get(metric.Name));
      expect(typeof doc[metric.Name]).toBe('number');
      expect(Number.isFinite(doc[metric.Name])).toBe(true);
      // A name is a metric or a dimension, never both.
      expect(dir.Dimensions.flat()).not.toContain(metric.Name);
    }
  }
}
