export * from './types';
export { eventSourceKind, parseKinesisMapping, parseSqsMapping } from './parse';
export { KinesisEventSourcePoller } from './kinesis';
export { onFailureRecord, s3OnFailureKey, type FailedBatch, type KinesisBatchInfo } from './on-failure';
export { SqsEventSourcePoller, type SqsEventRecord } from './sqs';
