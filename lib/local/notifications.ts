import { randomUUID } from 'node:crypto';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { AsyncInvoker } from './async-invoke';
import type { LocalClients } from './clients';
import type { LocalFunction } from './functions';
import { invokeCall, isAccessDeniedError, type InProcessAuthorizer } from './iam';
import { abortableSleep } from './lifecycle';
import type { ProvisionedStack } from './provision';
import { UnsupportedTemplateError } from './template/errors';

/**
 * S3 bucket notifications (`Custom::S3BucketNotifications`, which the CDK deploys with a provider function): the
 * emulator does not emit them, so the local environment lists each notified bucket (every 500 ms, and once more when
 * the run drains) and turns new or changed objects into `ObjectCreated:Put` and vanished ones into
 * `ObjectRemoved:Delete` events, in S3's event message format, delivered to Lambda (asynchronous invocation),
 * SQS or SNS destinations after the prefix/suffix filters.
 */

const TYPE = 'Custom::S3BucketNotifications';
const SUPPORTED_EVENTS = ['s3:ObjectCreated:*', 's3:ObjectCreated:Put', 's3:ObjectRemoved:*', 's3:ObjectRemoved:Delete'];

interface Target {
  kind: 'lambda' | 'sqs' | 'sns';
  arn: string;
  id: string;
  events: string[];
  prefix: string;
  suffix: string;
}

/** Per configuration: `denied` counts deliveries refused by a resource or key policy (also in `failed`). */
export interface NotificationStats { objectsSeen: number; events: number; delivered: number; failed: number; denied: number }

export interface LocalNotifications {
  readonly stats: Record<string, NotificationStats>;
  /** Lists every notified bucket once more and waits until the events it produced (and earlier ones) are delivered. */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

function parseTargets(
  logicalId: string, props: Record<string, unknown>, functions: readonly LocalFunction[], provisioned: ProvisionedStack,
): Target[] {
  const fail = (prop: string, detail: string): never => { throw new UnsupportedTemplateError(logicalId, TYPE, prop, detail); };
  const config = (props.NotificationConfiguration ?? {}) as Record<string, unknown>;
  const targets: Target[] = [];
  for (const key of Object.keys(config)) {
    if (!['LambdaFunctionConfigurations', 'QueueConfigurations', 'TopicConfigurations'].includes(key)) {
      fail(`NotificationConfiguration.${key}`, 'is not supported locally (Lambda, SQS and SNS notifications are)');
    }
  }
  const add = (key: string, kind: Target['kind'], arnProp: string): void => {
    ((config[key] as Array<Record<string, unknown>> | undefined) ?? []).forEach((c, i) => {
      const where = `NotificationConfiguration.${key}[${i}]`;
      const events = (c.Events as string[] | undefined) ?? [];
      for (const e of events) if (!SUPPORTED_EVENTS.includes(e)) fail(`${where}.Events`, `${e} is not emitted locally (supported: ${SUPPORTED_EVENTS.join(', ')})`);
      let prefix = '';
      let suffix = '';
      const rules = ((c.Filter as { Key?: { FilterRules?: Array<{ Name: string; Value: string }> } } | undefined)?.Key?.FilterRules) ?? [];
      for (const r of rules) {
        if (r.Name.toLowerCase() === 'prefix') prefix = r.Value;
        else if (r.Name.toLowerCase() === 'suffix') suffix = r.Value;
        else fail(`${where}.Filter`, `filter rule ${r.Name} is not prefix or suffix`);
      }
      const arn = String(c[arnProp]);
      if (kind === 'lambda' && !functions.some((f) => f.functionArn === arn)) fail(`${where}.${arnProp}`, `${arn} is not a function of this stack`);
      if (kind === 'sqs' && !provisioned.queues.some((q) => q.arn === arn)) fail(`${where}.${arnProp}`, `${arn} is not a queue of this stack`);
      if (kind === 'sns' && !provisioned.topics.some((t) => t.arn === arn)) fail(`${where}.${arnProp}`, `${arn} is not a topic of this stack`);
      targets.push({ kind, arn, id: String(c.Id ?? `${kind}-${i}`), events, prefix, suffix });
    });
  };
  add('LambdaFunctionConfigurations', 'lambda', 'LambdaFunctionArn');
  add('QueueConfigurations', 'sqs', 'QueueArn');
  add('TopicConfigurations', 'sns', 'TopicArn');
  return targets;
}

/** S3 event keys are URL-encoded with '+' for spaces. */
function eventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

function matches(t: Target, key: string, created: boolean): boolean {
  const wanted = created ? t.events.some((e) => e.startsWith('s3:ObjectCreated:')) : t.events.some((e) => e.startsWith('s3:ObjectRemoved:'));
  return wanted && key.startsWith(t.prefix) && key.endsWith(t.suffix);
}

export function startNotifications(
  provisioned: ProvisionedStack,
  functions: readonly LocalFunction[],
  clients: LocalClients,
  invoker: AsyncInvoker,
  opts: {
    log: (line: string) => void;
    region: string;
    /** The bucket owner's account: the `aws:SourceAccount` of S3's invoke. */
    account: string;
    /** IAM on: S3 invokes a function only where its resource-based policy allows `s3.amazonaws.com`. */
    authz?: InProcessAuthorizer;
    /** Clients signed as S3 for a bucket: queue/topic and key policies decide its SQS and SNS deliveries (default the operator's). */
    clientsOfBucket?: (bucketName: string) => LocalClients;
    intervalMs?: number;
  },
): LocalNotifications {
  const plans = provisioned.bucketNotifications.map((n) => ({
    logicalId: n.logicalId,
    bucket: String(n.props.BucketName),
    targets: parseTargets(n.logicalId, n.props, functions, provisioned),
  }));
  for (const p of plans) {
    if (!provisioned.buckets.some((b) => b.name === p.bucket)) {
      throw new UnsupportedTemplateError(p.logicalId, TYPE, 'BucketName', `${p.bucket} is not a bucket of this stack`);
    }
  }
  const stats: Record<string, NotificationStats> = {};
  const abort = new AbortController();
  const deliveries = new Set<Promise<void>>();
  let sequencer = 0;

  const scanners = plans.map((p) => {
    const st: NotificationStats = (stats[p.logicalId] = { objectsSeen: 0, events: 0, delivered: 0, failed: 0, denied: 0 });
    const asS3 = opts.clientsOfBucket?.(p.bucket) ?? clients;
    const known = new Map<string, string>();
    // One common prefix for the listing when every target filters by prefix.
    const prefixes = p.targets.map((t) => t.prefix);
    const listPrefix = prefixes.length > 0 && prefixes.every((x) => x.length > 0 && x === prefixes[0]) ? prefixes[0] : undefined;
    let scanning = Promise.resolve();

    const deliver = (t: Target, key: string, size: number, etag: string, created: boolean): void => {
      st.events++;
      const record = {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: opts.region,
        eventTime: new Date().toISOString(),
        eventName: created ? 'ObjectCreated:Put' : 'ObjectRemoved:Delete',
        userIdentity: { principalId: 'AWS:LOCAL' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase(), 'x-amz-id-2': 'local' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: t.id,
          bucket: { name: p.bucket, ownerIdentity: { principalId: 'LOCAL' }, arn: `arn:aws:s3:::${p.bucket}` },
          object: created
            ? { key: eventKey(key), size, eTag: etag.replace(/"/g, ''), sequencer: (++sequencer).toString(16).toUpperCase().padStart(16, '0') }
            : { key: eventKey(key), sequencer: (++sequencer).toString(16).toUpperCase().padStart(16, '0') },
        },
      };
      const event = { Records: [record] };
      const d = (async () => {
        try {
          if (t.kind === 'lambda') {
            const fn = functions.find((f) => f.functionArn === t.arn)!;
            const principal = { kind: 'service', arn: 's3.amazonaws.com', sourceArn: `arn:aws:s3:::${p.bucket}`, sourceAccount: opts.account } as const;
            const verdict = opts.authz?.authorize(invokeCall(fn.functionArn, principal));
            if (verdict?.kind === 'reject') throw Object.assign(new Error(`${verdict.errorType}: ${verdict.message}`), { name: verdict.errorType });
            if (await invoker.invoke(fn, event, p.logicalId)) st.delivered++; else st.failed++;
          } else {
            await invoker.sendTo(t.arn, JSON.stringify(event), asS3);
            st.delivered++;
          }
        } catch (e) {
          st.failed++;
          if (isAccessDeniedError((e as Error).name)) st.denied++;
          opts.log(`${p.logicalId}: notification to ${t.arn} failed: ${(e as Error).message}`);
        }
      })().finally(() => deliveries.delete(d));
      deliveries.add(d);
    };

    const scanOnce = async (): Promise<void> => {
      const seen = new Map<string, { etag: string; size: number }>();
      let token: string | undefined;
      for (let page = 0; page < 10_000; page++) {
        const list = new ListObjectsV2Command({ Bucket: p.bucket, Prefix: listPrefix, ContinuationToken: token });
        const res = await clients.s3.send(list, { abortSignal: abort.signal });
        for (const o of res.Contents ?? []) if (o.Key) seen.set(o.Key, { etag: o.ETag ?? '', size: o.Size ?? 0 });
        if (!res.IsTruncated) break;
        token = res.NextContinuationToken;
      }
      for (const [key, o] of seen) {
        if (known.get(key) === o.etag) continue;
        known.set(key, o.etag);
        st.objectsSeen++;
        for (const t of p.targets) if (matches(t, key, true)) deliver(t, key, o.size, o.etag, true);
      }
      for (const key of [...known.keys()]) {
        if (seen.has(key)) continue;
        known.delete(key);
        for (const t of p.targets) if (matches(t, key, false)) deliver(t, key, 0, '', false);
      }
    };
    const scan = (): Promise<void> => {
      scanning = scanning.then(scanOnce).catch((e: unknown) => {
        if (!abort.signal.aborted) opts.log(`${p.logicalId}: listing ${p.bucket} failed: ${(e as Error).message}`);
      });
      return scanning;
    };
    const loop = (async () => {
      while (!abort.signal.aborted) {
        await scan();
        await abortableSleep(opts.intervalMs ?? 500, abort.signal);
      }
    })();
    return { scan, loop };
  });
  if (plans.length > 0) {
    opts.log(`${plans.length} bucket notification configuration(s) emulated: ${plans.map((p) => `${p.logicalId} s3://${p.bucket} -> ${p.targets.map((t) => t.arn.split(':').pop()).join(', ')}`).join('; ')}`);
  }
  return {
    stats,
    flush: async () => {
      await Promise.all(scanners.map((s) => s.scan()));
      for (let i = 0; i < 100 && deliveries.size > 0; i++) await Promise.allSettled([...deliveries]);
      await invoker.settle();
    },
    stop: async () => {
      abort.abort();
      await Promise.allSettled(scanners.map((s) => s.loop));
      await Promise.allSettled([...deliveries]);
    },
  };
}
