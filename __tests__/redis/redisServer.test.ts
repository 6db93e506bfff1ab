// The Redis suite's own server: a real redis-server on a free loopback port in a temp folder, durable only when asked, gone after stop().
import { existsSync } from 'node:fs';
import { startRedisServer } from './redisServer';

describe('test redis-server', () => {
  it('listens on 127.0.0.1 with its own temp folder and no snapshots; stop() ends it, closes its clients and removes the folder', async () => {
    const server = await startRedisServer();
    const client = server.client();
    expect(await client.ping()).toBe('PONG');
    expect(await client.config('GET', 'dir')).toEqual(['dir', expect.stringContaining(server.dir.split('/').pop()!)]);
    expect(await client.config('GET', 'save')).toEqual(['save', '']);
    expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'no']);
    expect(await client.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
    expect(existsSync(server.dir)).toBe(true);
    await server.stop();
    expect(client.status).toBe('end');
    expect(existsSync(server.dir)).toBe(false);
  });

  it('keeps data across a restart when the append-only file is on', async () => {
    const server = await startRedisServer({ appendOnly: true });
    try {
      const client = server.client();
      await client.set('kept', 'yes');
      await server.restart();
      const after = server.client();
      expect(await after.get('kept')).toBe('yes');
    } finally {
      await server.stop();
    }
  });

  it('starts empty after a restart without the append-only file (what a test that needs durability must ask for)', async () => {
    const server = await startRedisServer();
    try {
      await server.client().set('lost', 'yes');
      await server.restart();
      expect(await server.client().get('lost')).toBeNull();
    } finally {
      await server.stop();
    }
  });

  it('gives BullMQ-ready clients: maxRetriesPerRequest null', async () => {
    const server = await startRedisServer();
    try {
      const client = server.queueClient();
      expect(client.options.maxRetriesPerRequest).toBeNull();
      expect(await client.ping()).toBe('PONG');
    } finally {
      await server.stop();
    }
  });
});
