/**
 * JSON Schema of a telemetry reading: what a device (through its site gateway) puts on the telemetry stream, one
 * reading per message.
 *
 * The schema checks what a reading must be for the pipeline to store it (types, the sensors' measurement ranges,
 * the key); what the fleet *should* look like (known sites, released firmware, plausible temperatures, battery
 * health) is checked by the quality rules in quality.ts, which warn instead of dead-lettering: a reading from a site
 * onboarded yesterday is still a reading. Kept small: the schema travels to the handler in the PHX_SCHEMA environment
 * variable (4 KB of environment in total); descriptions live here in comments.
 */
export const IOT_SITES = ['ams-01', 'ams-02', 'ber-01', 'lis-01', 'mad-01', 'waw-01'] as const;
/** Firmware releases the fleet may run (a device on anything else is on an unreleased or withdrawn build). */
export const IOT_FIRMWARE = ['3.2.0', '3.2.1', '3.3.0'] as const;
/** The temperature sensor's measurement range in °C (an SHT3x-class sensor): outside it a value is corrupt. */
export const TEMPERATURE_SENSOR_RANGE = { min: -40, max: 125 } as const;

export const telemetrySchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['deviceId', 'seq', 'ts', 'site', 'firmware', 'temperature', 'battery'],
  properties: {
    // the device's serial, as provisioned in the device registry
    deviceId: { type: 'string', pattern: '^dev-[0-9a-f]{6}$' },
    // the device's message counter: +1 per reading, kept in flash (it survives reboots)
    seq: { type: 'integer', minimum: 0 },
    // when the reading was taken, by the device's clock (ISO-8601); the pipeline's event time
    ts: { type: 'string', format: 'date-time' },
    site: { type: 'string', pattern: '^[a-z]{3}-[0-9]{2}$' },
    firmware: { type: 'string', pattern: '^[0-9]+\\.[0-9]+\\.[0-9]+$' },
    // °C; null when the sensor could not be read (counted by the temperature-complete rule)
    temperature: { type: ['number', 'null'], minimum: TEMPERATURE_SENSOR_RANGE.min, maximum: TEMPERATURE_SENSOR_RANGE.max },
    // relative humidity in %; absent on devices without the humidity sensor
    humidity: { type: 'number', minimum: 0, maximum: 100 },
    // state of charge in %
    battery: { type: 'integer', minimum: 0, maximum: 100 },
    // radio signal strength in dBm
    rssi: { type: 'integer', minimum: -130, maximum: 0 },
  },
  additionalProperties: false,
};

/**
 * Natural key of a reading: one reading per (device, message counter). A gateway that re-sends a reading after a
 * lost acknowledgement (MQTT QoS 1 delivers at least once) produces the same id, and the table keeps one item.
 */
export const telemetryKeyFields = ['deviceId', 'seq'];
