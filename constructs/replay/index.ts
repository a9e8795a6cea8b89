export * from './failure-normalizer';
export * from './raw-archive';
export * from './replay-function';
