// express-ltiaas-grades/testing: the LTIAAS emulator for tests and demos (re-exports only).
export { LtiaasEmulator, startEmulator } from './emulator';
export type { EnrolledUser, LineItemSeed } from './emulator';
export type { EmulatorOptions } from './options';
export type { LaunchDescription, EmulatedLaunch, EmulatedIdToken } from './launches';
export type { EmulatedRawIdToken } from './rawIdToken';
export type { MembershipJson, MembershipContainerJson } from './memberships';
export type { FaultSpec } from './faults';
export type { RequestLogEntry, RequestLogFilter } from './requestLog';
export type { EmulatedLineItem, ReceivedScore, LineItemJson, ResultJson } from './gradebook';
export type { LineItemFields, ScoreFields, ActivityProgress, GradingProgress } from './validation';
export type { AuthScheme } from './auth';
export type { LtiaasErrorBody } from './errors';
export type { PathPattern } from './pathPattern';
export type { GradebookView } from './gradebookView';
