/**
 * The record core: pure logic shared by the handlers, the runtime and the local environment.
 * No AWS SDK and no I/O (enforced by test/import-boundaries.test.ts).
 */
export * from './failure';
export * from './canonical';
export * from './ids';
export * from './decode';
export * from './envelope';
export * from './backoff';
export * from './dlq-codec';
