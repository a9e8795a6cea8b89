import { describe, expect, it } from 'vitest';
import { ConfigError, CorruptSketchError, InvalidArgumentError, PhoenixError, ProfileError } from '../../../lib/core/errors';

describe('error model', () => {
  it('ConfigError names the variable, the value given and what is allowed', () => {
    const e = new ConfigError('PHX_STAGE', 'a.b', '1-64 characters');
    expect(e).toBeInstanceOf(PhoenixError);
    expect(e.code).toBe('CONFIG');
    expect(e.name).toBe('ConfigError');
    expect(e.message).toBe('Invalid configuration: PHX_STAGE="a.b"; allowed: 1-64 characters');
    expect(new ConfigError('X', undefined, 'y').message).toBe('Invalid configuration: X=<unset>; allowed: y');
    expect(new ConfigError('X', 'v'.repeat(300), 'y').message).toContain('...(300 chars)');
  });

  it('every class carries its stable code', () => {
    expect(new InvalidArgumentError('m').code).toBe('INVALID_ARGUMENT');
    expect(new ProfileError('m').code).toBe('PROFILE');
    expect(new CorruptSketchError('m').code).toBe('CORRUPT_SKETCH');
  });
});
