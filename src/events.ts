// The events a grades instance emits (submitted, queued, retry, rejected) and their payloads.
import { EventEmitter } from 'node:events';

/** A grade reached the LMS. */
export interface SubmittedEvent {
  lineItemId: string;
  userId: string;
  status: 'submitted';
  scoreGiven?: number;
  scoreMaximum?: number;
  /** From the start of the submission to LTIAAS's answer, retries included. */
  durationMs: number;
  /** True when delivered later by the outbox. */
  fromOutbox: boolean;
}

/** A grade could not be delivered now and is held by the outbox. */
export interface QueuedEvent {
  id: string;
  lineItemId?: string;
  userId?: string;
  status: 'queued';
  /** Why it was queued: the error code and upstream status, when there was one. */
  code: string;
  upstreamStatus?: number;
  durationMs: number;
}

/** An LTIAAS call failed in a way that may pass and is tried again after `delayMs`. */
export interface RetryEvent {
  method: string;
  endpoint: string;
  attempt: number;
  delayMs: number;
  status?: number;
  kind: 'network' | 'timeout' | 'http';
  lineItemId?: string;
  userId?: string;
}

/** LTIAAS or the LMS refused a grade for good (the LMS's message is in `message`). */
export interface RejectedEvent {
  lineItemId?: string;
  userId?: string;
  status: 'rejected';
  code: string;
  upstreamStatus?: number;
  message: string;
  durationMs: number;
  fromOutbox: boolean;
}

export interface GradeEventMap {
  submitted: SubmittedEvent;
  queued: QueuedEvent;
  retry: RetryEvent;
  rejected: RejectedEvent;
}

export type GradeEventName = keyof GradeEventMap;

/**
 * A typed event emitter. A listener's failure is reported to the logger, never to the grade:
 * a listener that throws, and an async listener whose promise rejects (which Node would
 * otherwise treat as an unhandled rejection and end the process over).
 */
export class GradeEvents {
  private readonly emitter = new EventEmitter();

  constructor(private readonly onListenerError: (error: unknown, event: GradeEventName) => void) {}

  on<E extends GradeEventName>(event: E, listener: (payload: GradeEventMap[E]) => void | Promise<void>): this {
    this.emitter.on(event, listener);
    return this;
  }

  off<E extends GradeEventName>(event: E, listener: (payload: GradeEventMap[E]) => void | Promise<void>): this {
    this.emitter.off(event, listener);
    return this;
  }

  emit<E extends GradeEventName>(event: E, payload: GradeEventMap[E]): void {
    for (const listener of this.emitter.listeners(event)) {
      try {
        const returned: unknown = (listener as (payload: GradeEventMap[E]) => unknown)(payload);
        if (isThenable(returned)) {
          // Promise.resolve also settles a thenable whose own `then` throws.
          Promise.resolve(returned).then(undefined, (error: unknown) => this.report(error, event));
        }
      } catch (error) {
        this.report(error, event);
      }
    }
  }

  /** A logger that throws must not turn a reported failure into the grade's failure, or an unhandled one. */
  private report(error: unknown, event: GradeEventName): void {
    try {
      this.onListenerError(error, event);
    } catch {
      // Nothing left to tell.
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
