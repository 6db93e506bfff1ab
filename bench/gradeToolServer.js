// One tool of the grade benchmark in its own process, so the load generator's and the emulator's CPU is not charged to it.
// Usage: fork('gradeToolServer.js', ['package' | 'floor' | 'guide']); then send { id, command: 'start' | 'cpu' | 'clock' | 'stop', args }.
const { createFloorTool } = require('./gradeTools/floorTool');
const { createGuideTool } = require('./gradeTools/guideTool');
const { createPackageTool } = require('./gradeTools/packageTool');

const TOOLS = { package: createPackageTool, floor: createFloorTool, guide: createGuideTool };
const kind = process.argv[2];
if (!TOOLS[kind]) throw new Error(`gradeToolServer: unknown tool "${kind}"; one of ${Object.keys(TOOLS).join(', ')}`);

let tool;
let server;

const commands = {
  async start(options) {
    tool = await TOOLS[kind](options);
    server = await new Promise((resolve) => {
      const listening = tool.app.listen(0, '127.0.0.1', () => resolve(listening));
    });
    // A tool waits while the other two take their turn, on a busy machine for longer than Node's
    // 5 s keep-alive: its students' idle connections must still be open when its turn comes.
    server.keepAliveTimeout = 120_000;
    return { port: server.address().port };
  },
  /** This process's CPU time, read around each round to charge CPU per grade. */
  cpu() {
    const { user, system } = process.cpuUsage();
    return user + system;
  },
  /** The monotonic clock in microseconds: the time base of a --cpu-prof profile's samples. */
  clock: () => Number(process.hrtime.bigint() / 1000n),
  async stop() {
    await new Promise((resolve) => server.close(resolve));
    await tool.close();
    // Leaves after the answer is sent; a normal exit is what makes --cpu-prof write its file.
    setImmediate(() => process.exit(0));
  },
};

process.on('message', async ({ id, command, args }) => {
  try {
    process.send({ id, result: await commands[command](args) });
  } catch (error) {
    process.send({ id, error: error.stack ?? String(error) });
  }
});

// The benchmark went away (finished or crashed): do not linger holding a port.
process.on('disconnect', () => process.exit(0));
