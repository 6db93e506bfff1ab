// A clock and timer to give an outbox (its options now, setTimeout, clearTimeout): time moves only when the test moves it.

/** One timer the outbox armed on the manual clock. */
export interface ManualTimer {
  readonly delayMs: number;
  readonly dueAt: number;
  readonly callback: () => void;
}

/**
 * Stands in for Date.now and the global timers of one outbox. Nothing fires by itself: the test
 * fires the next timer (`fireNext`) or moves time on (`advance`), then waits for what the outbox
 * does next (`untilArmed`: it finished a round and armed its next timer), never for wall time.
 */
export class ManualClock {
  private time: number;
  private readonly armed = new Set<ManualTimer>();
  private listeners: Array<() => void> = [];
  /** Every delay the outbox asked for, in order. */
  readonly armedDelays: number[] = [];

  constructor(startMs = Date.now()) {
    this.time = startMs;
  }

  /** The outbox options that put it on this clock. */
  options(): { now: () => number; setTimeout: (callback: () => void, delayMs: number) => unknown; clearTimeout: (timer: unknown) => void } {
    return {
      now: () => this.time,
      setTimeout: (callback, delayMs) => {
        const timer: ManualTimer = { delayMs, dueAt: this.time + delayMs, callback };
        this.armed.add(timer);
        this.armedDelays.push(delayMs);
        const listeners = this.listeners;
        this.listeners = [];
        for (const listener of listeners) listener();
        return timer;
      },
      clearTimeout: (timer) => {
        this.armed.delete(timer as ManualTimer);
      },
    };
  }

  /** The current time on this clock, in ms since the epoch. */
  get now(): number {
    return this.time;
  }

  /** Timers armed and neither fired nor cleared, soonest first. */
  get pending(): ManualTimer[] {
    return [...this.armed].sort((a, b) => a.dueAt - b.dueAt);
  }

  /** Moves time to the soonest timer and fires it; throws when none is armed. */
  fireNext(): ManualTimer {
    const [next] = this.pending;
    if (!next) throw new Error('no timer is armed on the manual clock');
    this.armed.delete(next);
    this.time = Math.max(this.time, next.dueAt);
    next.callback();
    return next;
  }

  /** Moves time on by `ms`, firing every timer that falls due on the way, in order, each at its own time. */
  advance(ms: number): void {
    const until = this.time + ms;
    for (let [next] = this.pending; next && next.dueAt <= until; [next] = this.pending) this.fireNext();
    this.time = until;
  }

  /**
   * Resolves true once a timer is armed (at once if one is), or false as soon as `unless`
   * settles first (e.g. an event saying the outbox is done). Rejects only if neither happens
   * within `deadlineMs` of real time: a generous bound that turns a hang into a clear failure.
   */
  untilArmed({ unless, deadlineMs = 10_000 }: { unless?: Promise<unknown>; deadlineMs?: number } = {}): Promise<boolean> {
    if (this.armed.size > 0) return Promise.resolve(true);
    return new Promise<boolean>((resolve, reject) => {
      let settled = false;
      const finish = (outcome: boolean | Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        this.listeners = this.listeners.filter((listener) => listener !== armed);
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const armed = () => finish(true);
      const deadline = setTimeout(() => finish(new Error(`the outbox armed no timer within ${deadlineMs} ms`)), deadlineMs);
      this.listeners.push(armed);
      unless?.then(
        () => finish(false),
        () => finish(false),
      );
    });
  }
}

/** Lets every callback already queued run (promise continuations, I/O callbacks due now): no time passes on any clock. */
export const settleCallbacks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
