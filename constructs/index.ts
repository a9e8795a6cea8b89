export * from './dlq-with-replay';
export * from './ingest-sink';
export * from './ingest-stage';
export * from './data-pipeline';
export * from './quality-rules';
export * from './monitoring';
export * from './phoenix';
export * from './replay';
