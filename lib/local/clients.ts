import { LOCAL_CREDENTIALS, serviceClients, type ServiceClients } from '../aws/clients';
import { PhoenixError } from '../core/errors';

/** SDK clients of the local environment itself (provisioning, pollers, producer, verification). */
export interface LocalClients extends ServiceClients {
  /** SNS over the Query protocol (fauxqs): just what the local environment needs. */
  readonly sns: LocalSns;
}

export { LOCAL_CREDENTIALS };

/**
 * Clients signed with `accessKeyId`: the operator's by default; a principal's key (lib/local/iam principals) makes
 * the emulator host authorize the calls as that principal.
 */
export function createLocalClients(
  endpoints: { kinesis: string; dynamodb: string; fauxqs: string }, region: string, accessKeyId = LOCAL_CREDENTIALS.accessKeyId,
): LocalClients {
  // Kinesis: the SDK's HTTP/2 handler (the emulator host serves kinesalite over HTTP/2), one session shared by the calls.
  const clients = serviceClients(
    { region, credentials: { ...LOCAL_CREDENTIALS, accessKeyId }, maxAttempts: 5 },
    { kinesis: endpoints.kinesis, dynamodb: endpoints.dynamodb, sqs: endpoints.fauxqs, s3: endpoints.fauxqs },
  );
  return { ...clients, sns: new LocalSns(endpoints.fauxqs, region, accessKeyId) };
}

/** An SNS call the service answered with an error; `errorType` is its `<Code>` (`AuthorizationError`). */
export class LocalSnsError extends PhoenixError {
  constructor(readonly errorType: string, message: string) {
    super('LOCAL_SNS', message);
  }
}

/** A minimal SNS Query-protocol client for fauxqs (CreateTopic, Subscribe, Publish), signed with `accessKeyId`. */
export class LocalSns {
  constructor(
    private readonly endpoint: string,
    private readonly region: string,
    private readonly accessKeyId: string = LOCAL_CREDENTIALS.accessKeyId,
  ) {}

  private async call(params: Record<string, string>): Promise<string> {
    const body = new URLSearchParams({ ...params, Version: '2010-03-31' }).toString();
    const res = await fetch(`${this.endpoint}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'authorization': `AWS4-HMAC-SHA256 Credential=${this.accessKeyId}/20200101/${this.region}/sns/aws4_request, SignedHeaders=host, Signature=local`,
      },
      body,
    });
    const text = await res.text();
    if (!res.ok) {
      const msg = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? text.slice(0, 200);
      const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? 'Unknown';
      throw new LocalSnsError(code, `SNS ${params.Action} failed (${res.status} ${code}): ${msg}`);
    }
    return text;
  }

  async createTopic(name: string, attributes: Record<string, string>): Promise<string> {
    const params: Record<string, string> = { Action: 'CreateTopic', Name: name };
    Object.entries(attributes).forEach(([k, v], i) => {
      params[`Attributes.entry.${i + 1}.key`] = k;
      params[`Attributes.entry.${i + 1}.value`] = v;
    });
    const xml = await this.call(params);
    const arn = /<TopicArn>([^<]*)<\/TopicArn>/.exec(xml)?.[1];
    if (!arn) throw new Error(`SNS CreateTopic ${name}: no TopicArn in the response`);
    return arn;
  }

  async subscribe(topicArn: string, protocol: string, endpoint: string, attributes: Record<string, string>): Promise<void> {
    const params: Record<string, string> = { Action: 'Subscribe', TopicArn: topicArn, Protocol: protocol, Endpoint: endpoint, ReturnSubscriptionArn: 'true' };
    Object.entries(attributes).forEach(([k, v], i) => {
      params[`Attributes.entry.${i + 1}.key`] = k;
      params[`Attributes.entry.${i + 1}.value`] = v;
    });
    await this.call(params);
  }

  /** SnsPublisher (lib/local/esm/types.ts). */
  async publish(input: { TopicArn: string; Message: string }): Promise<unknown> {
    return this.call({ Action: 'Publish', TopicArn: input.TopicArn, Message: input.Message });
  }
}
