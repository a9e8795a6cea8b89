export * from './types';
export { eventSourceKind, MappingAccessDeniedError, parseKinesisMapping, parseSqsMapping } from './parse';
export { KinesisEventSourcePoller } from './kinesis';
export { onFailureRecord, s3OnFailureKey, type FailedBatch, type KinesisBatchInfo } from './on-failure';
export { SqsEventSourcePoller, type SqsEventRecord } from './sqs';
