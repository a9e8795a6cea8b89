/**
 * JSON Schema of an order event: one version of an order, put on the orders stream each time the order changes.
 *
 * Every version of an order carries the same `orderId` (the natural key, so every version gets the same record id)
 * and the time it was made as `eventTime` (the handler's event time: the sink keeps the version with the newest one).
 * Kept small: the schema travels to the handler in the PHX_SCHEMA environment variable (4 KB of environment in total).
 */
export const ORDER_STATUSES = ['created', 'paid', 'packed', 'shipped', 'delivered', 'cancelled', 'refunded'] as const;

export const orderEventSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['orderId', 'version', 'eventTime', 'status', 'customerId', 'currency', 'items', 'total'],
  properties: {
    orderId: { type: 'string', minLength: 1, maxLength: 64 },
    // increments with every change of the order; informative (the sink orders versions by eventTime)
    version: { type: 'integer', minimum: 1 },
    // when this version was made (the order's updatedAt), ISO-8601 with milliseconds; strictly increasing per order
    eventTime: { type: 'string', format: 'date-time' },
    status: { type: 'string', enum: [...ORDER_STATUSES] },
    customerId: { type: 'string', minLength: 1, maxLength: 64 },
    currency: { type: 'string', pattern: '^[A-Z]{3}$' },
    items: {
      type: 'array',
      minItems: 1,
      maxItems: 200,
      items: {
        type: 'object',
        required: ['sku', 'quantity', 'unitPrice'],
        properties: {
          sku: { type: 'string', minLength: 1, maxLength: 64 },
          quantity: { type: 'integer', minimum: 1 },
          unitPrice: { type: 'number', minimum: 0 },
        },
        additionalProperties: false,
      },
    },
    total: { type: 'number', minimum: 0 },
    correlationId: { type: 'string', maxLength: 128 },
  },
  additionalProperties: false,
};

/**
 * Natural key of an order event: the order id only, so that every version of an order has the same record id and
 * the sink holds one item per order (its newest version).
 */
export const orderEventKeyFields = ['orderId'];
