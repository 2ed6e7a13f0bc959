/**
 * The bytes of retained messages clients left in the broker (topic +
 * payload), bounded by limits.mqttRetainedBytes: fleet state is retained from
 * the store (StoreRetained), but anything else a client publishes with the
 * retain flag is kept by Aedes in memory. A retained publish that would pass
 * the bound is refused (RETAINED_LIMIT); an empty payload clears its topic and
 * frees its bytes. The broker's memory persistence does not survive a
 * restart, and neither does this count.
 */
export class RetainedBudget {
  private readonly sizes = new Map<string, number>();
  private total = 0;

  constructor(private readonly limit: number) {}

  get bytes(): number {
    return this.total;
  }

  /** Admit a retained message (and count it), or false when it would pass the bound. */
  admit(topic: string, payloadBytes: number): boolean {
    const old = this.sizes.get(topic) ?? 0;
    if (payloadBytes === 0) {
      this.sizes.delete(topic);
      this.total -= old;
      return true;
    }
    const size = Buffer.byteLength(topic) + payloadBytes;
    const next = this.total - old + size;
    if (next > this.limit) return false;
    this.sizes.set(topic, size);
    this.total = next;
    return true;
  }
}
