// A count of deliveries allowed at once in this process: jobs BullMQ fetched ahead wait here for a free slot.
export class DeliverySlots {
  private busy = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly size: number) {}

  /** Resolves once a slot is free, with the function that frees it (call it exactly once). */
  async take(): Promise<() => void> {
    if (this.busy < this.size) this.busy += 1;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      // Handed straight to the next waiter, so that a delivery starts the moment another ends.
      const next = this.waiting.shift();
      if (next) next();
      else this.busy -= 1;
    };
  }
}
