// The package's public entry point: re-exports only.
import './express/requestTypes';

export { ltiaasGrades, type LtiaasGrades } from './ltiaasGrades';
export type { LtiaasGradesOptions, RetryOptions, CacheOptions, LtikSource } from './options';
export type { SubmitGradeOptions } from './express/submitGrade';
export type { LtiRequestContext } from './express/requestTypes';
export { LaunchGrades, type SubmitOptions, type SubmitOutcome, type QueuedGrade } from './grades/launchGrades';
export { LineItems } from './grades/lineItems';
export type { CallOptions } from './client/transport';
export type { Logger, LogMethod } from './logger';
export type { GradeEventMap, GradeEventName, SubmittedEvent, QueuedEvent, RetryEvent, RejectedEvent } from './events';
export {
  LtiaasGradesError,
  OptionsError,
  LtikError,
  InvalidGradeError,
  GradesUnavailableError,
  LtiaasRejectedError,
  LtiaasUnavailableError,
  isLtiaasGradesError,
  type LtiaasGradesErrorCode,
  type UpstreamFailure,
} from './errors';
export type {
  IdToken,
  LineItem,
  LineItemsPage,
  LineItemFilters,
  LineItemInput,
  LineItemSpec,
  Result,
  ResultsPage,
  ResultFilters,
  ScoreInput,
  ScorePayload,
  ActivityProgress,
  GradingProgress,
  SubmittedGrade,
} from './types';
