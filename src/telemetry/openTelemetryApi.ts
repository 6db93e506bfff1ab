// Loads @opentelemetry/api, an optional peer dependency, when a grades instance is made (never when the package is imported), and tells when it is not installed.
import { createRequire } from 'node:module';
import type * as OpenTelemetry from '@opentelemetry/api';

/** The @opentelemetry/api module. */
export type OpenTelemetryApi = typeof OpenTelemetry;

let loaded: { api: OpenTelemetryApi | undefined } | undefined;

/** Set to true by the ES module build (tsup.config.ts); undefined in the sources. */
declare const __LTIAAS_GRADES_ESM_BUILD__: boolean | undefined;

/**
 * In the ES module build, which has no `require`, one made for this file: it resolves from this
 * package's folder, as its other dependencies do. Elsewhere (the CommonJS build, and jest, whose
 * module registry the tests register their SDK in) the module's own. Called indirectly, so that
 * no bundler tries to include the optional package.
 */
const requireHere = (): NodeJS.Require =>
  typeof __LTIAAS_GRADES_ESM_BUILD__ !== 'undefined' && __LTIAAS_GRADES_ESM_BUILD__ ? createRequire(__filename) : require;

/**
 * The application's @opentelemetry/api, or undefined when it is not installed: then nothing is
 * recorded. Both builds load its CommonJS copy: the API keeps the providers an SDK registers on
 * a process-wide global, so an ES module app's SDK is seen by it as well.
 */
export function openTelemetryApi(): OpenTelemetryApi | undefined {
  if (!loaded) {
    try {
      const load = requireHere();
      loaded = { api: load('@opentelemetry/api') as OpenTelemetryApi };
    } catch {
      loaded = { api: undefined };
    }
  }
  return loaded.api;
}
