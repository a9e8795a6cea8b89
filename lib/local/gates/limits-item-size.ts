/**
 * DynamoDB's item size (developer guide, "Item sizes and formats"): attribute names plus values; strings and binary
 * by their bytes, numbers about 1 byte per two significant digits plus 1, null and booleans 1 byte, lists and maps
 * 3 bytes plus 1 byte per element plus their contents.
 */
import { PhoenixError } from '../../core/errors';

type AttributeValue = Readonly<Record<string, unknown>>;

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

function binaryBytes(v: unknown): number {
  if (v instanceof Uint8Array) return v.byteLength;
  if (typeof v === 'string') return Buffer.from(v, 'base64').byteLength;
  throw new PhoenixError('LIMITS_BAD_ITEM', 'a B value must be bytes or a base64 string');
}

/** Bytes of a number: significant digits (leading and trailing zeros dropped) / 2, rounded up, plus 1. */
function numberBytes(n: string): number {
  const digits = n.replace(/^[-+]/, '').replace(/[eE].*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}

function valueBytes(v: AttributeValue): number {
  const [type] = Object.keys(v);
  const x = v[type];
  switch (type) {
    case 'S': return utf8(x as string);
    case 'N': return numberBytes(x as string);
    case 'B': return binaryBytes(x);
    case 'BOOL': case 'NULL': return 1;
    case 'SS': return (x as string[]).reduce((s, e) => s + utf8(e), 0);
    case 'NS': return (x as string[]).reduce((s, e) => s + numberBytes(e), 0);
    case 'BS': return (x as unknown[]).reduce<number>((s, e) => s + binaryBytes(e), 0);
    case 'L': return 3 + (x as AttributeValue[]).reduce((s, e) => s + 1 + valueBytes(e), 0);
    case 'M': return 3 + Object.entries(x as Record<string, AttributeValue>).reduce((s, [k, e]) => s + 1 + utf8(k) + valueBytes(e), 0);
    default: throw new PhoenixError('LIMITS_BAD_ITEM', `unknown DynamoDB attribute type ${type}; allowed: S, N, B, BOOL, NULL, SS, NS, BS, L, M`);
  }
}

/** The size DynamoDB counts against the 400 KB item limit, of an item in the low-level (AttributeValue) shape. */
export function dynamodbItemSize(item: Readonly<Record<string, AttributeValue>>): number {
  return Object.entries(item).reduce((s, [name, v]) => s + utf8(name) + valueBytes(v), 0);
}
