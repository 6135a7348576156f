/**
 * Captures what Powertools writes (through its own Console on process.stdout and, for WARN and ERROR
 * log lines, process.stderr; not the global console) and splits it into EMF documents and log lines.
 * In Lambda both streams land in the function's log group.
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
  emf(): EmfDocument[];
  logs(): LogLine[];
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
    logs: () => parsed().filter((o): o is LogLine => o._aws === undefined),
    clear: () => void (raw.length = 0),
    restore: () => spies.forEach((s) => s.mockRestore()),
  };
}

/** The one directive of a Powertools EMF document (Powertools always writes exactly one). */
export function directive(doc: EmfDocument): EmfDirective {
  expect(doc._aws.CloudWatchMetrics).toHaveLength(1);
  return doc._aws.CloudWatchMetrics[0];
}

/** The EMF document carrying a metric under a given dimension set, if any. */
export function findDoc(docs: EmfDocument[], metric: string, dims: string[]): EmfDocument | undefined {
  return docs.find((d) => {
    const dir = d._aws.CloudWatchMetrics[0];
    return dir.Metrics.some((m) => m.Name === metric) && dir.Dimensions.some((s) => s.join(',') === dims.join(','));
  });
}
