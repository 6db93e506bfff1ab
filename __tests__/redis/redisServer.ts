// A real redis-server (Debian's package) for the Redis suite: a free loopback port, a temp folder of its own, stopped and removed after.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Redis, { type RedisOptions } from 'ioredis';

export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

export interface RedisServerOptions {
  /** Append-only file on (fsync always), for tests that restart or kill the server and expect the data back. */
  appendOnly?: boolean;
}

export interface RedisTestServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** The server's --dir (a mkdtemp folder, removed by stop()). */
  readonly dir: string;
  /** A new ioredis client to this server, closed by stop(). */
  client(options?: RedisOptions): Redis;
  /** A client as BullMQ needs it: `maxRetriesPerRequest: null` (commands wait through a reconnect instead of failing). */
  queueClient(options?: RedisOptions): Redis;
  /** Stops the server gracefully (it writes its append-only file) and starts it again on the same port and folder. */
  restart(): Promise<void>;
  /** Ends the server without a chance to save (SIGKILL). */
  kill(): Promise<void>;
  /** Starts the server again after kill(), on the same port and folder. */
  start(): Promise<void>;
  /** Closes every client, stops the server and removes its folder. */
  stop(): Promise<void>;
}

/** Servers this test process started: killed and their folders removed if a test file forgets stop(). */
const running = new Set<{ process?: ChildProcess; dir: string }>();
process.once('exit', () => {
  for (const server of running) {
    server.process?.kill('SIGKILL');
    rmSync(server.dir, { recursive: true, force: true });
  }
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Spawns redis-server and resolves once it logs that it accepts connections; rejects with its output if it exits first. */
function spawnServer(port: number, dir: string, options: RedisServerOptions): Promise<ChildProcess> {
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', options.appendOnly ? 'yes' : 'no',
    ...(options.appendOnly ? ['--appendfsync', 'always'] : []),
    '--daemonize', 'no',
    '--logfile', '',
    '--loglevel', 'notice',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('Ready to accept connections')) {
        child.stdout!.off('data', onData);
        child.off('exit', onExit);
        // Keep draining, so a chatty server never blocks on a full pipe.
        child.stdout!.resume();
        resolve(child);
      }
    };
    const onExit = (code: number | null) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`));
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('exit', onExit);
    child.once('error', reject);
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisTestServer> {
  if (!existsSync(REDIS_SERVER)) {
    throw new Error(`${REDIS_SERVER} not found: the Redis suite needs Debian's redis-server (apt-get install -y redis-server), or REDIS_SERVER=/path/to/redis-server.`);
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ltiaas-grades-redis-'));
  const entry: { process?: ChildProcess; dir: string } = { dir };
  running.add(entry);
  // Another process may take the free port between the probe and redis-server's bind: try a few.
  let port = 0;
  for (let attempt = 1; ; attempt += 1) {
    port = await freePort();
    try {
      entry.process = await spawnServer(port, dir, options);
      break;
    } catch (error) {
      if (attempt >= 5 || !/Address already in use/i.test((error as Error).message)) {
        running.delete(entry);
        await fs.rm(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }

  const clients = new Set<Redis>();
  const connect = (extra: RedisOptions = {}): Redis => {
    // disconnectTimeout 0: ioredis otherwise keeps a 2 s timer for a socket the server already closed, and jest waits for it.
    const client = new Redis({ host: '127.0.0.1', port, disconnectTimeout: 0, ...extra });
    // A test that stops the server on purpose sees reconnect errors; they are not failures of the test.
    client.on('error', () => undefined);
    clients.add(client);
    return client;
  };

  const stopProcess = async (signal: NodeJS.Signals) => {
    const child = entry.process;
    if (!child) return;
    entry.process = undefined;
    child.kill(signal);
    await exited(child);
  };

  return {
    host: '127.0.0.1',
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    client: connect,
    queueClient: (extra = {}) => connect({ maxRetriesPerRequest: null, ...extra }),
    restart: async () => {
      await stopProcess('SIGTERM');
      entry.process = await spawnServer(port, dir, options);
    },
    kill: () => stopProcess('SIGKILL'),
    start: async () => {
      if (!entry.process) entry.process = await spawnServer(port, dir, options);
    },
    stop: async () => {
      for (const client of clients) client.disconnect();
      clients.clear();
      await stopProcess('SIGTERM');
      running.delete(entry);
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
