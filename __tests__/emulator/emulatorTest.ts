// The set-up the emulator's tests share: a fresh emulator for each test, a fetch-based caller, auth headers, paths and score bodies.
import { startEmulator, type EmulatedLaunch, type LtiaasEmulator } from 'express-ltiaas-grades/testing';

export const LEARNER = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Learner';
export const INSTRUCTOR = 'http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor';
export const DOCUMENTED_401 = {
  status: 401,
  error: 'Unauthorized',
  details: { message: 'INVALID_LTIK_AUTH_AUTHORIZATION_HEADER', description: 'Invalid or expired ltik.' },
};

/** The emulator of the running test (a live binding: each test gets a fresh one, see useFreshEmulator). */
export let emulator: LtiaasEmulator;

/** Starts a default emulator before each test of the calling file and closes it after. */
export function useFreshEmulator(): void {
  beforeEach(async () => {
    emulator = await startEmulator();
  });
  afterEach(async () => {
    await emulator.close();
  });
}

export interface CallOptions {
  auth?: string;
  body?: unknown;
  contentType?: string | null;
  signal?: AbortSignal;
}

export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  // Tests read arbitrary JSON fields; any keeps them short, and a wrong field fails the assertion anyway.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** One HTTP call to `target` (the test's emulator by default) with Node's fetch; the body is parsed when it is JSON. */
export async function call(method: string, path: string, options: CallOptions = {}, target: LtiaasEmulator = emulator): Promise<CallResult> {
  const headers: Record<string, string> = {};
  if (options.auth !== undefined) headers.authorization = options.auth;
  let payload: string | undefined;
  if (options.body !== undefined) {
    payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    if (options.contentType !== null) headers['content-type'] = options.contentType ?? 'application/json';
  }
  const response = await fetch(`${target.url}${path}`, {
    method,
    headers,
    ...(payload === undefined ? {} : { body: payload }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    redirect: 'manual',
  });
  const text = await response.text();
  let body: unknown = undefined;
  if (text !== '') {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  return { status: response.status, headers: response.headers, text, body };
}

export const ltikAuth = (ltik: string, apiKey = emulator.apiKey): string => `LTIK-AUTH-V2 ${apiKey}:${ltik}`;
export const serviceAuth = (serviceKey: string, apiKey = emulator.apiKey): string => `SERVICE-AUTH-V1 ${apiKey}:${serviceKey}`;
export const lineItemPath = (id: string): string => `/api/lineitems/${encodeURIComponent(id)}`;
export const scoresPath = (id: string): string => `${lineItemPath(id)}/scores`;

let clockMs = Date.parse('2025-03-01T10:00:00.000Z');
export function nextTimestamp(): string {
  clockMs += 1000;
  return new Date(clockMs).toISOString();
}

export function score(userId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    userId,
    activityProgress: 'Completed',
    gradingProgress: 'FullyGraded',
    scoreGiven: 7,
    scoreMaximum: 10,
    timestamp: nextTimestamp(),
    ...extra,
  };
}

export async function createLineItem(launch: EmulatedLaunch, spec: Record<string, unknown>): Promise<string> {
  const created = await call('POST', '/api/lineitems', { auth: ltikAuth(launch.ltik), body: spec });
  expect(created.status).toBe(201);
  return created.body.id as string;
}

export function withoutSecrets(text: string, secrets: string[]): void {
  for (const secret of secrets) expect(text).not.toContain(secret);
}
