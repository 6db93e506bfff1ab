// Starts Debian's redis-server for a benchmark (REDIS_SERVER names another, as for the Redis test suite): a free loopback port, a temp folder, append-only file on.
const { spawn } = require('node:child_process');
const { existsSync, promises: fs } = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REDIS_SERVER = process.env.REDIS_SERVER || '/usr/bin/redis-server';

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves { port, stop() } once the server accepts connections; undefined when there is no redis-server to run. */
async function startRedisServer() {
  if (!existsSync(REDIS_SERVER)) return undefined;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-redis-'));
  const port = await freePort();
  // As the README tells users to run it for the outbox: append-only file on (fsync every second), no eviction.
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--maxmemory-policy', 'noeviction', '--daemonize', 'no', '--logfile', ''];
  const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk) => {
      output += chunk.toString('utf8');
      if (output.includes('Ready to accept connections')) {
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => (output += chunk.toString('utf8')));
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`)));
  });
  // The benchmark went away without stopping it: do not leave it running.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  return {
    port,
    async stop() {
      process.off('exit', onExit);
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startRedisServer, REDIS_SERVER };
