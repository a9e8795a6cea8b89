/**
 * Compact encodings of sketch arrays for the serialized profile (base64 text inside JSON).
 * Float arrays are written as float32 when every value survives the round trip exactly (integers below 2^24,
 * many decimals do not), else as float64: serialization is always lossless.
 */
import { CorruptSketchError } from '../errors';

/** Encodes bytes as base64. */
export function bytesToBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Decodes base64 into a fresh (aligned) byte array. */
export function base64ToBytes(text: string): Uint8Array {
  const b = Buffer.from(text, 'base64');
  const out = new Uint8Array(b.length);
  out.set(b);
  return out;
}

/** Encodes numbers losslessly: `f4:` + base64 float32 when exact, else `f8:` + base64 float64. */
export function encodeFloats(values: readonly number[]): string {
  let exact32 = true;
  for (let i = 0; i < values.length; i++) {
    if (Math.fround(values[i]) !== values[i]) {
      exact32 = false;
      break;
    }
  }
  if (exact32) {
    return 'f4:' + bytesToBase64(new Uint8Array(Float32Array.from(values).buffer));
  }
  return 'f8:' + bytesToBase64(new Uint8Array(Float64Array.from(values).buffer));
}

/** Decodes {@link encodeFloats}. Throws on an unknown prefix or a length that is not a whole number of floats. */
export function decodeFloats(text: string): number[] {
  const kind = text.slice(0, 3);
  const bytes = base64ToBytes(text.slice(3));
  if (kind === 'f4:' && bytes.length % 4 === 0) {
    return Array.from(new Float32Array(bytes.buffer, 0, bytes.length / 4));
  }
  if (kind === 'f8:' && bytes.length % 8 === 0) {
    return Array.from(new Float64Array(bytes.buffer, 0, bytes.length / 8));
  }
  throw new CorruptSketchError(`invalid float array encoding (prefix '${kind}', ${bytes.length} bytes)`);
}
