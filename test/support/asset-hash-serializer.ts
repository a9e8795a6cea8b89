/**
 * vitest snapshot serializer: replaces 64-hex asset hashes (which change with the checkout path
 * when source maps are on, and with every handler change) by a fixed marker.
 */
const HASH = /[0-9a-f]{64}/g;

export default {
  test(val: unknown): boolean {
    return typeof val === 'string' && /[0-9a-f]{64}/.test(val);
  },
  serialize(
    val: string, _config: unknown, _indentation: string, _depth: number, _refs: unknown, printer: (v: unknown, ...rest: unknown[]) => string,
  ): string {
    return printer(val.replace(HASH, '[ASSET-HASH]'), _config, _indentation, _depth, _refs);
  },
};
