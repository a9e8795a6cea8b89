/**
 * Metrics as the handlers emit them (EMF lines on stdout) and as the monitoring stacks query them (dashboard body
 * and alarm definitions of a synthesized template), in one comparable shape.
 */
import type { Template } from 'aws-cdk-lib/assertions';

/** A metric identity: namespace, name and dimensions (values as strings; tokens rendered as `TOKEN(...)`). */
export interface MetricId {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

export function key(m: MetricId): string {
  const dims = Object.keys(m.dimensions).sort().map((k) => `${k}=${m.dimensions[k]}`).join(',');
  return `${m.namespace}/${m.name}{${dims}}`;
}

/** Every metric of every EMF document among `lines` (one entry per metric and dimension set). */
export function emittedMetrics(lines: Array<Record<string, unknown>>): MetricId[] {
  const out: MetricId[] = [];
  for (const doc of lines) {
    type Directive = { Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> };
    const aws = doc._aws as { CloudWatchMetrics?: Directive[] } | undefined;
    for (const directive of aws?.CloudWatchMetrics ?? []) {
      for (const dimensionSet of directive.Dimensions) {
        const dimensions = Object.fromEntries(dimensionSet.map((d) => [d, String(doc[d])]));
        for (const metric of directive.Metrics) {
          if (doc[metric.Name] === undefined) throw new Error(`EMF document declares ${metric.Name} without a value`);
          out.push({ namespace: directive.Namespace, name: metric.Name, dimensions });
        }
      }
    }
  }
  return out;
}

/** Renders an intrinsic (Ref, Fn::GetAtt...) as a JSON-safe marker. */
function tokenMarker(x: unknown): string {
  const o = x as Record<string, unknown>;
  if (o.Ref) return `TOKEN(Ref:${String(o.Ref)})`;
  if (o['Fn::GetAtt']) return `TOKEN(GetAtt:${(o['Fn::GetAtt'] as string[]).join('.')})`;
  return `TOKEN(${JSON.stringify(x).replace(/["\\]/g, '')})`;
}

/** The dashboard bodies of a template, parsed (tokens rendered as markers). */
export function dashboardBodies(template: Template): Array<{ widgets: Array<Record<string, any>> }> {
  return Object.values(template.findResources('AWS::CloudWatch::Dashboard')).map((d) => {
    const body = d.Properties.DashboardBody;
    const text = typeof body === 'string' ? body
      : (body['Fn::Join'][1] as unknown[]).map((p) => (typeof p === 'string' ? p : tokenMarker(p))).join('');
    return JSON.parse(text);
  });
}

/** Metrics drawn by graph and single-value widgets (metric math expressions are skipped; their inputs are listed). */
export function dashboardMetrics(template: Template): MetricId[] {
  const out: MetricId[] = [];
  for (const body of dashboardBodies(template)) {
    for (const w of body.widgets) {
      for (const entry of (w.properties?.metrics ?? []) as unknown[][]) {
        const parts = entry.filter((p) => typeof p === 'string') as string[];
        if (parts.length === 0) continue; // [{ expression }]
        if (parts.length < 2 || parts.length % 2 !== 0) throw new Error(`unexpected metric entry ${JSON.stringify(entry)}`);
        const [namespace, name, ...dims] = parts;
        const dimensions: Record<string, string> = {};
        for (let i = 0; i < dims.length; i += 2) dimensions[dims[i]] = dims[i + 1];
        out.push({ namespace, name, dimensions });
      }
    }
  }
  return out;
}

function dimensionValue(v: unknown): string {
  return typeof v === 'string' ? v : tokenMarker(v);
}

/** Metrics of every alarm of a template (single-metric alarms and the metric stats of metric-math alarms). */
export function alarmMetrics(template: Template): Array<MetricId & { alarm: string }> {
  const out: Array<MetricId & { alarm: string }> = [];
  for (const [logicalId, a] of Object.entries(template.findResources('AWS::CloudWatch::Alarm'))) {
    const p = a.Properties;
    const stats = p.MetricName
      ? [{ Namespace: p.Namespace, MetricName: p.MetricName, Dimensions: p.Dimensions ?? [] }]
      : (p.Metrics as Array<Record<string, any>>).filter((m) => m.MetricStat).map((m) => m.MetricStat.Metric);
    for (const s of stats) {
      out.push({
        alarm: logicalId,
        namespace: s.Namespace,
        name: s.MetricName,
        dimensions: Object.fromEntries((s.Dimensions ?? []).map((d: { Name: string; Value: unknown }) => [d.Name, dimensionValue(d.Value)])),
      });
    }
  }
  return out;
}
