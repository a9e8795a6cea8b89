/** Data-quality profiling (pure): mergeable window profiles, drift statistics, rule evaluation and suggestion. */
export * from './profile';
export * from './column';
export * from './merge';
export * from './profile-codec';
export * from './summary';
export * from './format';
export { ProfileError } from '../errors';
export * from './drift';
export * from './rules';
export * from './suggest';
export { KllSketch, DEFAULT_KLL_K } from './kll';
export type { KllState } from './kll';
export { HyperLogLog, DEFAULT_HLL_LG_K } from './hll';
export { MisraGries, DEFAULT_FREQUENT_ITEMS } from './frequent';
export type { FrequentState } from './frequent';
export { XorShift32 } from './hash';
export * from './report';
