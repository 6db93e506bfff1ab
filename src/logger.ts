// The logger interface the package writes to (pino- and console-compatible) and the silent default.

/** A log method: called as `(fields, message)`, the argument order of pino and bunyan. */
export type LogMethod = (fields: Record<string, unknown>, message: string) => void;

/**
 * Where the package logs. Pass `console`, a pino or bunyan logger, or any object with these
 * methods; missing methods are skipped. Log lines never contain the API key, an ltik or a
 * service key.
 */
export interface Logger {
  debug?: LogMethod;
  info?: LogMethod;
  warn?: LogMethod;
  error?: LogMethod;
}

/** A logger with every level present, so the package can call without checking. */
export interface ResolvedLogger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
}

const ignore: LogMethod = () => undefined;

export const silentLogger: ResolvedLogger = { debug: ignore, info: ignore, warn: ignore, error: ignore };

/**
 * Binds each present level to its logger (pino's methods need `this`) and fills gaps with no-ops.
 * A logger that throws is the app's bug, but it must not fail a grade or crash the process from
 * a background path (the outbox, a listener report), so each call is guarded.
 */
export function resolveLogger(logger: Logger | undefined): ResolvedLogger {
  if (!logger) return silentLogger;
  const bind = (level: keyof Logger): LogMethod => {
    const method = logger[level];
    if (typeof method !== 'function') return ignore;
    return (fields, message) => {
      try {
        method.call(logger, fields, message);
      } catch {
        // Nowhere left to report it: the logger is the reporting channel.
      }
    };
  };
  return { debug: bind('debug'), info: bind('info'), warn: bind('warn'), error: bind('error') };
}
