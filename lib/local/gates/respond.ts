/** A gate's rejection written the way the service answers errors: JSON `__type`, SNS Query XML, or S3 XML. */
import { randomUUID } from 'node:crypto';
import type { AwsService, GateVerdict } from './types';
import type { WireProtocol } from '../iam/requests';

export interface HttpReply {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const xmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The HTTP reply for a rejected call. */
export function rejectionReply(protocol: WireProtocol, service: AwsService, verdict: Extract<GateVerdict, { kind: 'reject' }>): HttpReply {
  const requestId = randomUUID();
  const { status, errorType, message } = verdict;
  if (protocol === 'json') {
    // DynamoDB qualifies its error names; SQS (JSON with Query-compatible codes) also names the Query error code.
    const type = service === 'dynamodb' ? `com.amazonaws.dynamodb.v20120810#${errorType}` : errorType;
    const headers: Record<string, string> = {
      'content-type': service === 'kinesis' ? 'application/x-amz-json-1.1' : 'application/x-amz-json-1.0',
      'x-amzn-requestid': requestId,
      'x-amzn-errortype': errorType,
    };
    if (service === 'sqs') headers['x-amzn-query-error'] = `${errorType};Sender`;
    return { status, headers, body: JSON.stringify({ __type: type, message }) };
  }
  if (protocol === 'query') {
    const body = `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type><Code>${xmlEscape(errorType)}</Code>`
      + `<Message>${xmlEscape(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
    return { status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body };
  }
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xmlEscape(errorType)}</Code><Message>${xmlEscape(message)}</Message>`
    + `<RequestId>${requestId}</RequestId><HostId>phoenix-local</HostId></Error>`;
  return { status, headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId }, body };
}
