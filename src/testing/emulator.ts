// The LTIAAS emulator: a loopback HTTP server speaking the LTIAAS grades API, with inspectable state and scripted faults.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { LtiaasApi } from './api';
import { parseAuthorization } from './auth';
import { ContextRegistry } from './contexts';
import { LtiaasApiError, ltiaasErrorBody, scriptedFaultBody } from './errors';
import { FaultQueue, type FaultSpec } from './faults';
import { Gradebook, type EmulatedLineItem, type ReceivedScore } from './gradebook';
import { renderGradebookPage } from './gradebookPage';
import { buildGradebookView } from './gradebookView';
import { LaunchRegistry, type EmulatedLaunch, type LaunchDescription } from './launches';
import { isDelay, resolveEmulatorOptions, type EmulatorOptions, type ResolvedEmulatorOptions } from './options';
import { DEFAULT_PLATFORM_ID, PlatformRegistry } from './platforms';
import { parseJsonBody, readBody, type ReadBody } from './requestBody';
import { RequestLog, type RequestLogEntry, type RequestLogFilter } from './requestLog';
import { gradableByDefault, rolesFor, type RoleShorthand } from './roles';
import { SecretMasker } from './secrets';
import { validateLineItemBody } from './validation';

export interface EnrolledUser {
  id: string;
  roles?: string[];
  role?: RoleShorthand;
  /** Default: true for learners, false for instructors. */
  gradable?: boolean;
  name?: string;
  email?: string;
}

export interface LineItemSeed {
  label: string;
  scoreMaximum: number;
  resourceId?: string;
  tag?: string;
  resourceLinkId?: string;
}

type FaultKind = NonNullable<RequestLogEntry['fault']>;

/**
 * Starts an LTIAAS emulator on a loopback port; `close()` it when done.
 * @example
 * const emulator = await startEmulator();
 * const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: emulator.apiKey });
 * const launch = emulator.launch({ user: { id: 'ada' }, context: { id: 'course-1' } });
 * // ... drive your app with ?ltik=${launch.ltik}, then look at emulator.lineItems() and emulator.scores()
 * await emulator.close();
 */
export async function startEmulator(options?: EmulatorOptions): Promise<LtiaasEmulator> {
  return LtiaasEmulator.start(options);
}

export class LtiaasEmulator {
  private readonly options: ResolvedEmulatorOptions;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly pendingTimers = new Set<NodeJS.Timeout>();
  private readonly platforms: PlatformRegistry;
  private readonly contexts = new ContextRegistry();
  private readonly gradebook: Gradebook;
  private readonly launches: LaunchRegistry;
  private readonly api: LtiaasApi;
  private readonly faults = new FaultQueue();
  private readonly masker: SecretMasker;
  private readonly log: RequestLog;
  private latencyMs: number;
  private boundPort = 0;
  private listening = false;
  private closed = false;
  private acceptedConnections = 0;

  private constructor(options: ResolvedEmulatorOptions) {
    this.options = options;
    this.latencyMs = options.latencyMs;
    this.platforms = new PlatformRegistry(options.platformUrl);
    this.gradebook = new Gradebook(this.platforms, options.pageSize);
    this.launches = new LaunchRegistry(this.platforms, this.contexts, this.gradebook, options.ltikTtlMs, options.now);
    this.masker = new SecretMasker([options.apiKey], (token) => this.launches.isSecret(token));
    this.log = new RequestLog(options.logLimit, this.masker);
    this.api = new LtiaasApi({
      credentials: {
        apiKey: options.apiKey,
        grantForLtik: (ltik) => this.launches.grantForLtik(ltik),
        grantForServiceKey: (serviceKey) => this.launches.grantForServiceKey(serviceKey),
      },
      launches: this.launches,
      contexts: this.contexts,
      gradebook: this.gradebook,
      pageSize: options.pageSize,
      receivedAt: () => Date.now(),
    });
    this.server = createServer((request, response) => this.onRequest(request, response));
    this.server.on('connection', (socket: Socket) => {
      this.acceptedConnections += 1;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  /** Same as startEmulator(). */
  static async start(options?: EmulatorOptions): Promise<LtiaasEmulator> {
    const emulator = new LtiaasEmulator(resolveEmulatorOptions(options));
    await emulator.listen(emulator.options.port);
    return emulator;
  }

  /** 'http://127.0.0.1:<port>': the ltiaasUrl to give a client. */
  get url(): string {
    const host = this.options.host;
    // A wildcard address is reachable on loopback; an IPv6 literal needs brackets in a URL.
    if (host === '0.0.0.0' || host === '::' || host === 'localhost') return `http://127.0.0.1:${this.boundPort}`;
    return host.includes(':') ? `http://[${host}]:${this.boundPort}` : `http://${host}:${this.boundPort}`;
  }

  get apiKey(): string {
    return this.options.apiKey;
  }

  get port(): number {
    return this.boundPort;
  }

  /** TCP connections accepted since start: a client that keeps connections alive makes few. */
  get connectionCount(): number {
    return this.acceptedConnections;
  }

  /** A copy of the request log, oldest first, secrets masked. */
  get requests(): RequestLogEntry[] {
    return this.log.all();
  }

  launch(description?: LaunchDescription): EmulatedLaunch {
    return this.launches.launch(description);
  }

  /** Puts a user on a course's roster without a launch (users graded in batch who never launched; the NRPS roster). */
  enroll(contextId: string, user: EnrolledUser, platformId: string = DEFAULT_PLATFORM_ID): void {
    const platform = this.platforms.ensure({ id: platformId });
    const roles = rolesFor(user.roles, user.role);
    this.contexts.enroll(this.contexts.ensure(platform.id, contextId), {
      userId: user.id,
      roles,
      ...(user.name === undefined ? {} : { name: user.name }),
      ...(user.email === undefined ? {} : { email: user.email }),
      gradable: user.gradable ?? gradableByDefault(roles),
    });
  }

  /** From now on this ltik gets 401, as after its 24 hours. */
  expireLtik(ltik: string): void {
    this.launches.expire(ltik);
  }

  /** Scripts a fault for the next matching /api/* calls; the first queued fault that matches is used. */
  fail(fault: FaultSpec): void {
    this.faults.add(fault);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  setLatency(ms: number): void {
    if (!isDelay(ms)) throw new TypeError('setLatency: ms must be a finite number >= 0');
    this.latencyMs = ms;
  }

  /** Stops accepting connections (clients get ECONNREFUSED) and drops open ones; state and port are kept. */
  async unreachable(): Promise<void> {
    if (!this.listening) return;
    await this.stopListening();
  }

  /** Listens again on the same port. */
  async reachable(): Promise<void> {
    if (this.closed) throw new Error('reachable: the emulator is closed');
    if (this.listening) return;
    await this.listen(this.boundPort);
  }

  clearRequests(): void {
    this.log.clear();
  }

  countRequests(filter?: RequestLogFilter): number {
    return this.log.count(filter);
  }

  /** Snapshot copies with their score histories. */
  lineItems(filter: { contextId?: string; platformId?: string } = {}): EmulatedLineItem[] {
    return this.gradebook
      .all()
      .filter(
        (item) =>
          (filter.contextId === undefined || item.context.contextId === filter.contextId) &&
          (filter.platformId === undefined || item.context.platformId === filter.platformId),
      )
      .map((item) => this.gradebook.snapshot(item));
  }

  /** Every accepted score on a line item (optionally one user's), oldest first; [] for an unknown or deleted id. */
  scores(lineItemId: string, userId?: string): ReceivedScore[] {
    const item = this.gradebook.find(lineItemId);
    if (!item) return [];
    return this.gradebook.snapshot(item).scores.filter((score) => userId === undefined || score.userId === userId);
  }

  /** Seeds a line item as if a teacher had created it in the LMS. */
  addLineItem(contextId: string, spec: LineItemSeed, platformId: string = DEFAULT_PLATFORM_ID): EmulatedLineItem {
    let fields;
    try {
      fields = validateLineItemBody(spec);
    } catch (error) {
      throw new TypeError(`addLineItem: ${(error as Error).message}`);
    }
    const platform = this.platforms.ensure({ id: platformId });
    const context = this.contexts.ensure(platform.id, contextId);
    // A teacher binds a column to an activity of the course: the course has that resource link.
    if (fields.resourceLinkId !== undefined) this.contexts.addResourceLink(context, fields.resourceLinkId);
    const item = this.gradebook.create(context, fields);
    return this.gradebook.snapshot(item);
  }

  /** Deletes a line item as if in the LMS: later calls on its id get 404. */
  deleteLineItem(lineItemId: string): void {
    const item = this.gradebook.find(lineItemId);
    if (!item) throw new Error('deleteLineItem: no line item with this id');
    this.gradebook.remove(item);
  }

  /** Stops the server and destroys every socket, hung ones included, so that the test process can exit. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.pendingTimers) clearTimeout(timer);
    this.pendingTimers.clear();
    if (this.listening) await this.stopListening();
    else for (const socket of this.sockets) socket.destroy();
  }

  private listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        this.server.off('listening', onListening);
        reject(error);
      };
      const onListening = (): void => {
        this.server.off('error', onError);
        this.boundPort = (this.server.address() as AddressInfo).port;
        this.listening = true;
        resolve();
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen(port, this.options.host);
    });
  }

  private stopListening(): Promise<void> {
    this.listening = false;
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      // close() alone waits for keep-alive and hung connections; those must go too.
      this.server.closeAllConnections();
      for (const socket of this.sockets) socket.destroy();
    });
  }

  private onRequest(request: IncomingMessage, response: ServerResponse): void {
    const rawUrl = request.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const rawPath = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
    const rawQuery = queryAt === -1 ? '' : rawUrl.slice(queryAt + 1);
    if (rawPath === '/api' || rawPath.startsWith('/api/')) {
      this.serveApi(request, response, rawPath, rawQuery).catch((error: unknown) => this.internalError(response, error));
    } else {
      this.servePage(request, response, rawPath);
    }
  }

  private async serveApi(request: IncomingMessage, response: ServerResponse, rawPath: string, rawQuery: string): Promise<void> {
    const startedAt = performance.now();
    const at = new Date().toISOString();
    const method = request.method ?? 'GET';
    const auth = parseAuthorization(request.headers.authorization);
    const query = new URLSearchParams(rawQuery);
    // Taken on arrival, so that faults are used in the order requests come in.
    const fault = this.faults.take(method, rawPath);
    const faultKind = fault === undefined ? undefined : kindOf(fault);
    const body = await readBody(request);

    const record = (status: number | null): void => {
      const entry: RequestLogEntry = {
        at,
        method,
        path: rawPath,
        query: firstValues(query),
        authScheme: auth.scheme,
        status,
        durationMs: Math.round(performance.now() - startedAt),
      };
      if (faultKind !== undefined) entry.fault = faultKind;
      const loggedBody = bodyForLog(body);
      if (loggedBody !== undefined) entry.body = loggedBody;
      this.log.record(entry);
    };

    await this.sleep(this.latencyMs);
    if (fault?.delayMs !== undefined) await this.sleep(fault.delayMs);
    // Recorded before the answer goes out, so that a test reading the log right after its fetch sees it.
    if (response.destroyed || request.socket.destroyed) return record(null);
    if (fault?.drop) {
      record(null);
      request.socket.destroy();
      return;
    }
    if (fault?.hang) return record(null);
    if (fault?.status !== undefined) {
      const faultBody = fault.body !== undefined ? fault.body : fault.status >= 400 ? scriptedFaultBody(fault.status) : undefined;
      record(fault.status);
      return send(response, fault.status, faultBody, fault.headers);
    }

    let reply: { status: number; body?: unknown };
    try {
      const json = method === 'POST' || method === 'PUT' ? parseJsonBody(body, request.headers['content-type']) : undefined;
      reply = this.api.handle({ method, rawPath, query, auth, body: json });
    } catch (error) {
      if (!(error instanceof LtiaasApiError)) throw error;
      reply = { status: error.status, body: error.toBody() };
    }
    if (fault?.dropAnswer) {
      // The work is done (and logged with its real status); only the answer is lost.
      record(reply.status);
      request.socket.destroy();
      return;
    }
    record(reply.status);
    send(response, reply.status, reply.body);
  }

  private servePage(request: IncomingMessage, response: ServerResponse, rawPath: string): void {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      return send(response, 405, 'The grade book is read-only.\n', { Allow: 'GET, HEAD' });
    }
    if (rawPath === '/') return send(response, 302, undefined, { Location: '/gradebook' });
    const pageHeaders = {
      'Cache-Control': 'no-store',
      // Proves the page needs nothing from anywhere: no scripts, no external styles or images.
      'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
    };
    if (rawPath === '/gradebook') {
      const html = renderGradebookPage(this.gradebookView());
      return send(response, 200, html, { ...pageHeaders, 'Content-Type': 'text/html; charset=utf-8' });
    }
    if (rawPath === '/gradebook.json') return send(response, 200, this.gradebookView(), pageHeaders);
    send(response, 404, 'Not found. The grade book is at /gradebook; the API under /api.\n');
  }

  private gradebookView(): ReturnType<typeof buildGradebookView> {
    return buildGradebookView({
      platforms: this.platforms,
      contexts: this.contexts,
      gradebook: this.gradebook,
      log: this.log,
      masker: this.masker,
    });
  }

  // An emulator bug must not look like an LTIAAS answer a client could act on, nor hang the test.
  private internalError(response: ServerResponse, error: unknown): void {
    const description = this.masker.maskText(`Emulator bug: ${error instanceof Error ? error.message : String(error)}`);
    if (!response.headersSent && !response.destroyed) {
      send(response, 500, ltiaasErrorBody(500, 'EMULATOR_INTERNAL_ERROR', description));
    }
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    // Tracked so that close() can cancel them: a pending timer would keep jest from exiting.
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pendingTimers.delete(timer);
        resolve();
      }, ms);
      this.pendingTimers.add(timer);
    });
  }
}

function kindOf(fault: FaultSpec): FaultKind {
  if (fault.status !== undefined) return 'status';
  if (fault.drop || fault.dropAnswer) return 'drop';
  if (fault.hang) return 'hang';
  return 'delay';
}

function firstValues(query: URLSearchParams): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [name, value] of query) if (!(name in values)) values[name] = value;
  return values;
}

// The body as the client sent it: parsed when it is JSON, else its text (shortened), so a bad body can still be read.
function bodyForLog(body: ReadBody): unknown {
  if (body.text === '') return undefined;
  try {
    return JSON.parse(body.text) as unknown;
  } catch {
    return body.text.length > 2000 ? `${body.text.slice(0, 2000)}…` : body.text;
  }
}

function send(response: ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
  if (response.destroyed) return;
  const headers: Record<string, string | number> = {};
  let payload: string | undefined;
  if (body !== undefined && status !== 204 && status !== 304) {
    payload = typeof body === 'string' ? body : JSON.stringify(body);
    headers['content-type'] = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
  }
  headers['content-length'] = payload === undefined ? 0 : Buffer.byteLength(payload);
  // Lower-cased so that a caller's 'Content-Type' replaces ours instead of being sent twice.
  for (const [name, value] of Object.entries(extraHeaders)) headers[name.toLowerCase()] = value;
  if (status === 204 || status === 304) delete headers['content-length'];
  response.writeHead(status, headers);
  response.end(payload);
}
