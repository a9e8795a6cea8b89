import { GeneratedWorkload, normal, type GeneratedEvent } from './generator';
import type { PipelineRules, WorkloadOptions } from './types';

/**
 * Sites and firmware of the generated fleet: the IoT telemetry example's IOT_SITES and IOT_FIRMWARE (examples/ is not
 * imported by lib/; test/lib/local/workloads/workloads.test.ts checks that the two agree), with each site's typical indoor
 * temperature in °C.
 */
const SITES: ReadonlyArray<{ site: string; celsius: number; weight: number }> = [
  { site: 'ams-01', celsius: 19, weight: 3 },
  { site: 'ams-02', celsius: 18, weight: 2 },
  { site: 'ber-01', celsius: 17, weight: 2 },
  { site: 'lis-01', celsius: 23, weight: 1 },
  { site: 'mad-01', celsius: 25, weight: 1 },
  { site: 'waw-01', celsius: 15, weight: 1 },
];
/** Firmware of the fleet: most devices on 3.2.1, a rollout of 3.3.0 under way, stragglers on 3.2.0. */
const FIRMWARE: ReadonlyArray<{ version: string; weight: number }> = [
  { version: '3.2.0', weight: 1 },
  { version: '3.2.1', weight: 6 },
  { version: '3.3.0', weight: 3 },
];
/** Devices in the generated fleet. */
const FLEET_SIZE = 120;
/** Fraction of readings whose temperature sensor could not be read (temperature null). */
const SENSOR_READ_FAILURE = 0.002;

interface Device {
  deviceId: string;
  site: string;
  firmware: string;
  seq: number;
  /** The device's own offset from its site's temperature (placement: near a window, a door, a machine). */
  offset: number;
  battery: number;
  humidity: boolean;
}

function weighted<T extends { weight: number }>(items: readonly T[], u: number): T {
  const total = items.reduce((n, i) => n + i.weight, 0);
  let x = u * total;
  for (const i of items) {
    x -= i.weight;
    if (x < 0) return i;
  }
  return items[items.length - 1];
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/**
 * Seedable generator of the IoT telemetry example's readings (deviceId, seq, ts, site, firmware, temperature,
 * humidity, battery, rssi), valid per the example schema: a fleet of 120 devices at six sites, each with a message
 * counter, a slowly draining battery and a temperature around its site's; a few readings per thousand have no
 * temperature (sensor read failure, null). Readings of a device share a partition key (the deviceId). Mixed with the
 * same poison kinds and duplicates (a gateway re-sending a reading) as every generator. `--workload iot-telemetry`.
 */
export class IotTelemetryWorkload extends GeneratedWorkload {
  private readonly fleet: Device[] = [];

  constructor(opts: WorkloadOptions, rules: PipelineRules) {
    super('iot-telemetry', opts, rules, 'seq');
    const ids = new Set<string>();
    while (this.fleet.length < FLEET_SIZE) {
      const deviceId = `dev-${this.rnd.int(0, 0xffffff).toString(16).padStart(6, '0')}`;
      if (ids.has(deviceId)) continue;
      ids.add(deviceId);
      this.fleet.push({
        deviceId,
        site: weighted(SITES, this.rnd.next()).site,
        firmware: weighted(FIRMWARE, this.rnd.next()).version,
        seq: this.rnd.int(0, 50_000),
        offset: normal(this.rnd) * 1.5,
        battery: this.rnd.int(30, 100),
        humidity: this.rnd.chance(0.8),
      });
    }
    this.checkMatches(this.reading({ ...this.fleet[0] }, Date.now()));
  }

  private reading(d: Device, now: number): Record<string, unknown> {
    const siteCelsius = SITES.find((s) => s.site === d.site)!.celsius;
    const temperature = this.rnd.chance(SENSOR_READ_FAILURE) ? null : round1(siteCelsius + d.offset + normal(this.rnd) * 0.8);
    const payload: Record<string, unknown> = {
      deviceId: d.deviceId,
      seq: d.seq,
      // taken up to 3 s before the gateway put it
      ts: new Date(now - this.rnd.int(0, 3000)).toISOString(),
      site: d.site,
      firmware: d.firmware,
      temperature,
    };
    if (d.humidity) payload.humidity = round1(Math.min(95, Math.max(5, 45 + normal(this.rnd) * 8)));
    payload.battery = d.battery;
    payload.rssi = this.rnd.int(-95, -55);
    return payload;
  }

  protected validEvent(now: number): GeneratedEvent {
    const d = this.fleet[this.rnd.int(0, this.fleet.length - 1)];
    const payload = this.reading(d, now);
    d.seq++;
    // about one reading in 50 costs a percent of charge; a device at 5% gets its battery swapped
    if (this.rnd.chance(0.02)) d.battery = d.battery <= 5 ? 100 : d.battery - 1;
    return { payload, partitionKey: d.deviceId };
  }

  protected poisonBase(n: number, now: number): GeneratedEvent {
    const d = this.fleet[this.rnd.int(0, this.fleet.length - 1)];
    // a counter no valid reading of this run reaches: a poison record never shares an id with a valid one
    return { payload: this.reading({ ...d, seq: 2_000_000_000 + n }, now), partitionKey: d.deviceId };
  }

  /** The firmware bugs a fleet actually ships: a fuel gauge above 100%, a temperature as text, a numeric site id. */
  protected schemaViolation(base: Record<string, unknown>, n: number): Record<string, unknown> {
    switch (n % 3) {
      case 0: return { ...base, battery: 140 };
      case 1: return { ...base, temperature: String(base.temperature ?? '21.5') };
      default: return { ...base, site: 42 };
    }
  }

  protected nonJson(base: GeneratedEvent, n: number): string {
    // a gateway forwarding a device's raw line protocol instead of JSON
    return `telemetry,device=${String(base.payload.deviceId)} temperature=${String(base.payload.temperature)},poison=${n}i`;
  }
}
