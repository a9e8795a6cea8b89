export * from './pipeline';
export * from './correlated-monitor';
export * from './synthetic-canary';
export * from './drift-detector';
export * from './alarm-topic';
