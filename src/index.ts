// The package's public entry point: re-exports only.
import './express/requestTypes';

export { ltiaasGrades, type LtiaasGrades } from './ltiaasGrades';
export { ltiaasClient, type LtiaasClient } from './ltiaasClient';
export { fileOutbox, type FileOutboxOptions } from './outbox/fileOutbox';
export { storageOutbox, type OutboxOptions } from './outbox/gradeOutbox';
export type { Outbox, GradeOutbox, OutboxWorker, OutboxStats, JobOutcome, JobDeliverer } from './outbox/outbox';
export type { OutboxStorage, StoredGradeJob, GradeRecord, FailedGradeJob, GradeJobView, FailedGradeJobView, JobError } from './outbox/outboxTypes';
export { fileServiceKeyStore, type FileServiceKeyStoreOptions } from './serviceKeys/fileServiceKeyStore';
export type { ServiceKeyStore, ServiceKeyRecord, ServiceKeyRef } from './serviceKeys/serviceKeyStore';
export type { ServiceKeyGrades, UserScoreInput, LineItemTarget, SubmitManyOptions, BatchOutcome } from './grades/serviceKeyGrades';
export type { LtiaasGradesOptions, LtiaasClientOptions, RetryOptions, CacheOptions, LtikSource, TelemetryOptions } from './options';
export type { GradesStatus, GradesState, StatusProblem, OutboxStatus } from './status/gradesStatus';
export type { LtiaasReachability } from './status/ltiaasReachability';
export type { AdminRouterOptions } from './admin/adminRouter';
export type { Coordination } from './state/coordination';
export type { SubmitGradeOptions } from './express/submitGrade';
export type { LtiRequestContext } from './express/requestTypes';
export { requireLti, type LtiLaunchContext } from './express/requireLti';
export type { LaunchGrades, SubmitOptions } from './grades/launchGrades';
export type { LineItems } from './grades/lineItems';
export type { CallOptions } from './client/transport';
export type { Logger, LogMethod } from './logger';
export type { GradeEventMap, GradeEventName, SubmittedEvent, QueuedEvent, RetryEvent, RejectedEvent } from './events';
export {
  LtiaasGradesError,
  OptionsError,
  LtikError,
  InvalidGradeError,
  GradesUnavailableError,
  LineItemUnavailableError,
  LtiaasRejectedError,
  LtiaasUnavailableError,
  StorageUnavailableError,
  isLtiaasGradesError,
  type LtiaasGradesErrorCode,
  type UpstreamFailure,
  type ErrorCause,
  type UpstreamCause,
  type StorageCause,
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
  QueuedGrade,
  SubmitOutcome,
} from './types';
