import { GeneratedWorkload, type GeneratedEvent } from './generator';
import type { PipelineRules, WorkloadOptions } from './types';

/** Most concurrent sessions of the clickstream generator by default. */
export const DEFAULT_SESSIONS = 64;
const EVENT_TYPES = ['page_view', 'page_view', 'page_view', 'click', 'click', 'add_to_cart', 'purchase'] as const;
const PAGES = ['/', '/search', '/p/espresso-machine', '/p/grinder', '/p/beans-1kg', '/cart', '/checkout', '/account', '/help'];

interface Session { userId: string; sessionId: string; seq: number }

/**
 * Seedable generator of the clickstream example's events (userId, sessionId, seq, eventType, url, ts, optional
 * referrer and properties), valid per the example schema, mixed with poison records and duplicates.
 * Events of a session share a partition key (the sessionId), so a poison record sits in the same shard as valid ones.
 * `--workload clickstream` (the default).
 */
export class ClickstreamWorkload extends GeneratedWorkload {
  private readonly sessions: Session[] = [];
  private sessionCounter = 0;

  constructor(opts: WorkloadOptions, rules: PipelineRules) {
    super('clickstream', opts, rules, 'seq');
    this.checkMatches(this.validPayload({ userId: 'u-probe', sessionId: 's-probe', seq: 0 }, Date.now()));
  }

  /**
   * Advances the session model by `events` events without producing them: the workload then starts like a stream
   * joined in progress (sessions of every age) instead of with every session at seq 0.
   */
  warmUp(events: number): void {
    for (let i = 0; i < events; i++) this.session().seq++;
  }

  private session(): Session {
    // Up to 64 (opts.sessions) concurrent sessions; a session ends with probability 1/40 per event.
    const most = this.opts.sessions ?? DEFAULT_SESSIONS;
    if (this.sessions.length < most / 8 || (this.sessions.length < most && this.rnd.chance(0.1))) {
      const n = this.sessionCounter++;
      this.sessions.push({ userId: `u-${String(this.rnd.int(1, 5000)).padStart(5, '0')}`, sessionId: `s-${this.opts.seed}-${n}`, seq: 0 });
    }
    const i = this.rnd.int(0, this.sessions.length - 1);
    const s = this.sessions[i];
    if (this.rnd.chance(1 / 40)) this.sessions.splice(i, 1);
    return s;
  }

  private validPayload(s: Pick<Session, 'userId' | 'sessionId' | 'seq'>, now: number): Record<string, unknown> {
    const eventType = this.rnd.pick(EVENT_TYPES);
    const payload: Record<string, unknown> = {
      userId: s.userId,
      sessionId: s.sessionId,
      seq: s.seq,
      eventType,
      url: `https://shop.example.com${this.rnd.pick(PAGES)}`,
      ts: new Date(now).toISOString(),
    };
    if (this.rnd.chance(0.3)) payload.referrer = this.rnd.pick(['https://www.google.com/', 'https://news.example.org/', 'https://shop.example.com/']);
    if (eventType === 'add_to_cart' || eventType === 'purchase') {
      payload.properties = { sku: `SKU-${this.rnd.int(100, 999)}`, qty: this.rnd.int(1, 3), price: this.rnd.int(199, 99_999) / 100 };
    }
    return payload;
  }

  protected validEvent(now: number): GeneratedEvent {
    const s = this.session();
    const payload = this.validPayload(s, now);
    s.seq++;
    return { payload, partitionKey: s.sessionId };
  }

  protected poisonBase(n: number, now: number): GeneratedEvent {
    const s = this.session();
    return { payload: this.validPayload({ ...s, seq: 1_000_000 + n }, now), partitionKey: s.sessionId };
  }

  protected schemaViolation(base: Record<string, unknown>): Record<string, unknown> {
    return { ...base, eventType: 404 };
  }

  protected nonJson(base: GeneratedEvent, n: number): string {
    return `userId=${String(base.payload.userId)}&poison=${n} {not json`;
  }

  protected oversize(base: Record<string, unknown>, pad: number): Record<string, unknown> {
    return { ...base, properties: { blob: 'x'.repeat(pad) } };
  }
}
