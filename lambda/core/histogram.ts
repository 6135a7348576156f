/**
 * Log-scale histograms that DynamoDB can keep with ADD (one counter attribute per bucket), so percentiles
 * of latency and output length come from rollups instead of scanning request records. Four buckets per
 * doubling: a percentile is reported as its bucket's upper edge, at most ~19% above the true value.
 */
const STEPS_PER_DOUBLING = 4;

/** The bucket of a nonnegative value: 0 holds 0; bucket b > 0 holds values up to upperEdge(b). */
export function histogramBucket(value: number): number {
  if (!(value > 0)) return 0;
  return Math.max(1, Math.ceil(STEPS_PER_DOUBLING * Math.log2(value + 1)));
}

/** The largest value bucket `b` holds (whole units). */
export function upperEdge(bucket: number): number {
  return bucket <= 0 ? 0 : Math.floor(2 ** (bucket / STEPS_PER_DOUBLING) - 1 + 1e-9);
}

export type Histogram = Map<number, number>;

export function addHistograms(into: Histogram, from: ReadonlyMap<number, number>): Histogram {
  for (const [b, n] of from) into.set(b, (into.get(b) ?? 0) + n);
  return into;
}

/** The p-th percentile (0-100) as a bucket's upper edge; undefined for an empty histogram. */
export function percentile(h: ReadonlyMap<number, number>, p: number): number | undefined {
  const total = [...h.values()].reduce((s, n) => s + n, 0);
  if (total === 0) return undefined;
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (const b of [...h.keys()].sort((x, y) => x - y)) {
    seen += h.get(b) ?? 0;
    if (seen >= rank) return upperEdge(b);
  }
  return undefined;
}
