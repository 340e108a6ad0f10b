import type { DestinationStream, Logger } from "pino";
import { pino } from "pino";

export type { Logger } from "pino";

export interface LoggerOptions {
  level?: string;
  name?: string;
  /** Where lines go; defaults to stdout. Tests pass a stream to capture lines. */
  destination?: DestinationStream;
}

// Defence in depth: callers must not log payloads or secrets, but if an object
// slips through, these paths are censored before serialization.
const REDACT_PATHS = [
  "*.password",
  "*.token",
  "*.authorization",
  "*.Authorization",
  "headers.authorization",
  "*.data",
  "*.stringData",
  "*.bearerToken",
];

export function createLogger(opts: LoggerOptions = {}): Logger {
  const options = {
    level: opts.level ?? "info",
    // "name" is reserved for the reconciled object's name (DESIGN §6), so the
    // process name goes under "component".
    base: opts.name ? { component: opts.name } : {},
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A logger that drops everything; the default when a caller passes none. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
