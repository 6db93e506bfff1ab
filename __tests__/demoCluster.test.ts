// `npm run demo:cluster` without redis-server: a clear message and a non-zero exit, before anything starts.
import { spawn } from 'node:child_process';
import path from 'node:path';

const CLUSTER = path.join(__dirname, '..', 'demo-app', 'cluster.js');

function runCluster(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLUSTER], { env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run demo:cluster', () => {
  it('refuses with the way to install redis-server, and a non-zero exit, when redis-server is missing', async () => {
    const missing = path.join(__dirname, 'no-such-dir', 'redis-server');
    const { code, stdout, stderr } = await runCluster({ REDIS_SERVER: missing });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toContain(`demo:cluster needs redis-server, and there is none at ${missing}.`);
    expect(stderr).toContain('sudo apt-get install redis-server');
    expect(stderr).toContain('npm run demo');
  });
});
