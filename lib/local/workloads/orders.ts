import { GeneratedWorkload, type GeneratedEvent } from './generator';
import type { PipelineRules, WorkloadOptions } from './types';

/** Status transitions of an order (the orders example's ORDER_STATUSES); terminal statuses have none. */
const NEXT_STATUS: Readonly<Record<string, readonly string[]>> = {
  created: ['paid', 'paid', 'paid', 'cancelled'],
  paid: ['packed', 'packed', 'packed', 'cancelled'],
  packed: ['shipped'],
  shipped: ['delivered'],
  delivered: ['refunded', 'done', 'done', 'done', 'done', 'done', 'done', 'done', 'done', 'done'],
};
const CURRENCIES = ['EUR', 'EUR', 'USD', 'GBP'] as const;
/** Open orders at a time (each next valid record is a version of one of them, or a new order). */
const MAX_OPEN_ORDERS = 48;
/** Probability that a change of an order is put before the change preceding it (that one arrives later). */
const OUT_OF_ORDER = 0.15;

interface Order {
  orderId: string;
  customerId: string;
  currency: string;
  items: Array<{ sku: string; quantity: number; unitPrice: number }>;
  totalCents: number;
  status: string;
  version: number;
  /** Event time (epoch ms) of the newest version made so far: every version is at least 1 ms later. */
  lastEventMs: number;
  /** An older version held back to be put after a newer one (out of order). */
  pending?: GeneratedEvent;
}

/**
 * Seedable generator of the orders example's order events: every order gets several versions (created, paid,
 * packed, shipped, delivered; some cancelled or refunded), each with a strictly later `eventTime`. About 15% of the
 * changes are put out of order: the newer version first, the one before it later (a retry, a slow producer), so the
 * sink must keep the newest version by event time, not the last one written. Versions of an order share a partition
 * key (the orderId). Mixed with the same poison kinds and duplicates as every generator. `--workload orders`.
 */
export class OrdersWorkload extends GeneratedWorkload {
  private readonly open: Order[] = [];
  private orderCounter = 0;

  constructor(opts: WorkloadOptions, rules: PipelineRules) {
    super('orders', opts, rules, 'version');
    this.checkMatches(this.version(this.newOrder(Date.now(), 'o-probe')).payload);
  }

  private newOrder(now: number, orderId = `o-${this.opts.seed}-${this.orderCounter++}`): Order {
    const items = Array.from({ length: this.rnd.int(1, 4) }, () => ({
      sku: `SKU-${this.rnd.int(100, 999)}`,
      quantity: this.rnd.int(1, 3),
      unitPrice: this.rnd.int(199, 19_999) / 100,
    }));
    return {
      orderId,
      customerId: `c-${this.rnd.int(1, 2000)}`,
      currency: this.rnd.pick(CURRENCIES),
      items,
      totalCents: items.reduce((n, i) => n + Math.round(i.unitPrice * 100) * i.quantity, 0),
      status: 'created',
      version: 1,
      lastEventMs: now - 1,
    };
  }

  /** The event of the order's current state, as a new version made at `now` (or just after the previous one). */
  private version(o: Order, now = Date.now()): GeneratedEvent {
    const eventMs = Math.max(now, o.lastEventMs + 1);
    o.lastEventMs = eventMs;
    const payload: Record<string, unknown> = {
      orderId: o.orderId,
      version: o.version,
      eventTime: new Date(eventMs).toISOString(),
      status: o.status,
      customerId: o.customerId,
      currency: o.currency,
      items: o.items.map((i) => ({ ...i })),
      total: o.totalCents / 100,
    };
    return { payload, partitionKey: o.orderId, version: eventMs };
  }

  /** Moves the order to its next status; false when it has none (the order is done). */
  private advance(o: Order): boolean {
    const next = this.rnd.pick(NEXT_STATUS[o.status] ?? ['done']);
    if (next === 'done') return false;
    o.status = next;
    o.version++;
    return true;
  }

  protected validEvent(now: number): GeneratedEvent {
    if (this.open.length < 8 || (this.open.length < MAX_OPEN_ORDERS && this.rnd.chance(0.2))) {
      const o = this.newOrder(now);
      this.open.push(o);
      return this.version(o, now);
    }
    const i = this.rnd.int(0, this.open.length - 1);
    const o = this.open[i];
    if (o.pending) {
      // the older version held back arrives now, after the newer one
      const late = o.pending;
      o.pending = undefined;
      return late;
    }
    if (!this.advance(o)) {
      this.open.splice(i, 1);
      return this.validEvent(now);
    }
    const current = this.version(o, now);
    if (this.rnd.chance(OUT_OF_ORDER) && this.advance(o)) {
      // put the version after `current` first; `current` follows the next time this order is picked
      o.pending = current;
      return this.version(o, now);
    }
    return current;
  }

  protected poisonBase(n: number, now: number): GeneratedEvent {
    return this.version(this.newOrder(now, `o-poison-${this.opts.seed}-${n}`), now);
  }

  /** What a broken order service sends: an unknown status, a negative total, a currency name instead of its code. */
  protected schemaViolation(base: Record<string, unknown>, n: number): Record<string, unknown> {
    switch (n % 3) {
      case 0: return { ...base, status: 'teleported' };
      case 1: return { ...base, total: -Number(base.total) - 1 };
      default: return { ...base, currency: 'euro' };
    }
  }
}
