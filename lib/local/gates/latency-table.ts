/**
 * Per-operation latency figures for `--latency aws` (milliseconds, client-observed, same region, warm connection).
 * `basis` says where each figure comes from; `p99` figures marked "assumed" have no published percentile: they
 * keep the published typical range and are stated as assumptions in docs/local-environment.md ("Latency model").
 */
export interface LatencyFigure {
  readonly p50: number;
  readonly p99: number;
  readonly basis: string;
}

const DDB = 'https://aws.amazon.com/blogs/database/understanding-amazon-dynamodb-latency/ ("single-digit millisecond performance"); p99 assumed';
const SQS = 'Amazon SQS developer guide: typical SendMessage/ReceiveMessage/DeleteMessage latencies "in the tens or low hundreds of milliseconds"';
const S3 = 'S3 Express One Zone announcement: single-digit ms, "up to 10x faster" than S3 Standard (so tens of ms); p99 assumed';
const KDS = 'https://aws.amazon.com/blogs/aws/amazon-kinesis-update-reduced-prop-delay/ (records readable right after Put); figures assumed';

/** Keyed `<service>:<operation>`. */
export const LATENCY_TABLE: Readonly<Record<string, LatencyFigure>> = {
  'dynamodb:PutItem': { p50: 6, p99: 25, basis: DDB },
  'dynamodb:UpdateItem': { p50: 6, p99: 25, basis: DDB },
  'dynamodb:GetItem': { p50: 4, p99: 15, basis: DDB },
  's3:HeadObject': { p50: 20, p99: 100, basis: S3 },
  's3:GetObject': { p50: 30, p99: 150, basis: S3 },
  's3:PutObject': { p50: 40, p99: 200, basis: S3 },
  'sqs:SendMessage': { p50: 20, p99: 150, basis: SQS },
  'sqs:SendMessageBatch': { p50: 25, p99: 180, basis: SQS },
  'sqs:ReceiveMessage': { p50: 20, p99: 150, basis: SQS },
  'sqs:DeleteMessage': { p50: 15, p99: 120, basis: SQS },
  'sns:Publish': { p50: 20, p99: 150, basis: 'no published figure: taken equal to SQS SendMessage (assumed)' },
  'kinesis:PutRecord': { p50: 20, p99: 100, basis: KDS },
  'kinesis:PutRecords': { p50: 30, p99: 150, basis: KDS },
  'kinesis:GetRecords': { p50: 15, p99: 80, basis: KDS },
  'lambda:Invoke': { p50: 10, p99: 50, basis: 'warm-invoke overhead; no published percentile (assumed)' },
};
