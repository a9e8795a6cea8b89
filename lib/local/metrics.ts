import { Random } from './random';

/**
 * Local metrics from the functions' Embedded Metric Format (EMF) log lines: what CloudWatch would extract from the
 * same lines in AWS. Each metric is kept per namespace, name and dimension set: count of values, sum, min, max, a
 * bounded sample of values for percentiles, and the timestamped values (the EMF document's `_aws.Timestamp`, else the
 * time the line was read) that local alarms evaluate (lib/local/alarms.ts). Service metrics the functions do not
 * emit (AWS/Lambda, AWS/SQS, AWS/Kinesis) are added by lib/local/service-metrics.ts.
 */

export interface MetricKey {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
  readonly unit?: string;
}

export interface MetricSeries extends MetricKey {
  /** Number of values (an EMF value array counts each element). */
  count: number;
  sum: number;
  min: number;
  max: number;
  /** Up to `maxSamples` values (reservoir sample) for percentiles. */
  samples: number[];
  /**
   * Timestamped values `[epoch ms, value]` in arrival order, for alarm evaluation. At most `maxPoints`: beyond that the
   * oldest half is dropped (the run notes it in `droppedPoints`).
   */
  points: Array<[number, number]>;
  droppedPoints: number;
  /** Functions whose log lines produced this series (empty for service metrics). */
  sources: Set<string>;
}

function seriesId(namespace: string, name: string, dims: Record<string, string>): string {
  const d = Object.keys(dims).sort().map((k) => `${k}=${dims[k]}`).join(',');
  return `${namespace}|${name}|${d}`;
}

export class MetricsStore {
  private readonly series = new Map<string, MetricSeries>();
  /** Seeded, so that two runs keep comparable samples. */
  private readonly random = new Random(0x5eed);
  /** EMF lines seen and lines that looked like EMF but were malformed. */
  emfLines = 0;
  malformedEmfLines = 0;

  constructor(private readonly maxSamples = 50_000, private readonly maxPoints = 500_000) {}

  /**
   * Parses one log line; records its metrics if it is an EMF object. Lines may carry a prefix before the JSON
   * (e.g. a timestamp); anything that is not EMF is ignored. Returns true when the line was EMF.
   */
  ingestLine(line: string, source?: string): boolean {
    const start = line.indexOf('{');
    if (start < 0 || !line.includes('"_aws"')) return false;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line.slice(start)) as Record<string, unknown>;
    } catch {
      this.malformedEmfLines++;
      return false;
    }
    const aws = obj._aws as { CloudWatchMetrics?: unknown; Timestamp?: unknown } | undefined;
    if (!aws || !Array.isArray(aws.CloudWatchMetrics)) return false;
    this.emfLines++;
    const at = typeof aws.Timestamp === 'number' && Number.isFinite(aws.Timestamp) ? aws.Timestamp : Date.now();
    type Directive = { Namespace?: string; Dimensions?: string[][]; Metrics?: Array<{ Name?: string; Unit?: string }> };
    for (const directive of aws.CloudWatchMetrics as Directive[]) {
      const namespace = directive.Namespace;
      if (typeof namespace !== 'string') { this.malformedEmfLines++; continue; }
      const dimSets = Array.isArray(directive.Dimensions) && directive.Dimensions.length > 0 ? directive.Dimensions : [[]];
      for (const metric of directive.Metrics ?? []) {
        if (typeof metric.Name !== 'string') { this.malformedEmfLines++; continue; }
        const raw = obj[metric.Name];
        const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
        if (values.length === 0) continue;
        for (const set of dimSets) {
          const dims: Record<string, string> = {};
          for (const d of set) if (obj[d] !== undefined) dims[d] = String(obj[d]);
          this.add({ namespace, name: metric.Name, dimensions: dims, unit: metric.Unit }, values, at, source);
        }
      }
    }
    return true;
  }

  /** Adds values of one series observed at `at` (epoch ms, default now), produced by function `source` if given. */
  add(key: MetricKey, values: number[], at: number = Date.now(), source?: string): void {
    const id = seriesId(key.namespace, key.name, { ...key.dimensions });
    let s = this.series.get(id);
    if (!s) {
      s = {
        ...key,
        dimensions: { ...key.dimensions },
        count: 0,
        sum: 0,
        min: Infinity,
        max: -Infinity,
        samples: [],
        points: [],
        droppedPoints: 0,
        sources: new Set(),
      };
      this.series.set(id, s);
    }
    if (source !== undefined) s.sources.add(source);
    for (const v of values) {
      if (s.points.length >= this.maxPoints) {
        const drop = Math.floor(this.maxPoints / 2);
        s.points.splice(0, drop);
        s.droppedPoints += drop;
      }
      s.points.push([at, v]);
      s.count++;
      s.sum += v;
      if (v < s.min) s.min = v;
      if (v > s.max) s.max = v;
      if (s.samples.length < this.maxSamples) {s.samples.push(v);} else {
        const j = Math.floor(this.random.next() * s.count);
        if (j < this.maxSamples) s.samples[j] = v;
      }
    }
  }

  /** Sum of a metric over every series of that name (any namespace filter, any dimensions). */
  total(name: string, namespace?: string, dimensions?: Readonly<Record<string, string>>): number {
    let t = 0;
    for (const s of this.series.values()) {
      if (s.name !== name || (namespace && s.namespace !== namespace)) continue;
      if (dimensions && !Object.entries(dimensions).every(([k, v]) => s.dimensions[k] === v)) continue;
      t += s.sum;
    }
    return t;
  }

  /**
   * The series with exactly this namespace, name and dimension set (CloudWatch matches a metric by all of its
   * dimensions), or undefined.
   */
  find(namespace: string, name: string, dimensions: Readonly<Record<string, string>>): MetricSeries | undefined {
    return this.series.get(seriesId(namespace, name, { ...dimensions }));
  }

  all(): MetricSeries[] {
    const id = (s: MetricSeries): string => seriesId(s.namespace, s.name, s.dimensions);
    return [...this.series.values()].sort((a, b) => id(a).localeCompare(id(b)));
  }

  /** Values of every series of a metric name (for percentiles). */
  samples(name: string): number[] {
    const out: number[] = [];
    for (const s of this.series.values()) if (s.name === name) out.push(...s.samples);
    return out;
  }
}

/** Percentile by nearest rank of an unsorted list; undefined for an empty list. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[nearestRank(sorted.length, p) - 1];
}

/** The nearest rank (1-based) of percentile `p` among `n` sorted values. */
function nearestRank(n: number, p: number): number {
  return Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
}

export interface LatencySummary { count: number; p50?: number; p90?: number; p99?: number; max?: number; mean?: number }

export function summarize(values: readonly number[]): LatencySummary {
  if (values.length === 0) return { count: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number): number => sorted[nearestRank(sorted.length, p) - 1];
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  return { count: sorted.length, p50: at(50), p90: at(90), p99: at(99), max: sorted[sorted.length - 1], mean: Math.round(mean * 10) / 10 };
}
