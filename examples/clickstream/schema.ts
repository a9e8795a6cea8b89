/**
 * JSON Schema of a click event (the payload producers put on the clickstream's Kinesis stream).
 *
 * Kept small on purpose: the schema travels to the handler in an environment variable (PHX_SCHEMA) and
 * Lambda allows 4 KB of environment in total; descriptions live here in comments, not in the schema.
 */
export const CLICK_EVENT_TYPES = ['page_view', 'click', 'add_to_cart', 'purchase'] as const;

export const clickEventSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['userId', 'sessionId', 'seq', 'eventType', 'url', 'ts'],
  properties: {
    // pseudonymous user id from the web/app SDK
    userId: { type: 'string', minLength: 1, maxLength: 128 },
    // one browsing session; seq orders the events of a session
    sessionId: { type: 'string', minLength: 1, maxLength: 128 },
    seq: { type: 'integer', minimum: 0 },
    eventType: { type: 'string', enum: [...CLICK_EVENT_TYPES] },
    url: { type: 'string', minLength: 1, maxLength: 2048 },
    // ISO-8601 event time; the handler uses it as the envelope's eventTime
    ts: { type: 'string', format: 'date-time' },
    referrer: { type: 'string', maxLength: 2048 },
    // free-form, event-specific attributes (e.g. sku and price for add_to_cart)
    properties: { type: 'object' },
  },
  additionalProperties: false,
};

/** Natural key of a click: one event per (user, session, sequence number). */
export const clickEventKeyFields = ['userId', 'sessionId', 'seq'];
