// Runs the LTIAAS emulator in its own process for benchmarks, driven over IPC, so its CPU and memory are not measured.
const { startEmulator } = require('express-ltiaas-grades/testing');

let emulator;

const commands = {
  async start(options) {
    emulator = await startEmulator(options);
    return { url: emulator.url, apiKey: emulator.apiKey };
  },
  launch: (description) => {
    const launch = emulator.launch(description);
    return { ltik: launch.ltik, userId: launch.userId, lineItemId: launch.lineItemId, serviceKey: launch.serviceKey, contextId: launch.contextId };
  },
  launchMany: ({ count, description }) =>
    Array.from({ length: count }, (_, i) => {
      const launch = emulator.launch({ ...description, user: { id: `${description.userPrefix ?? 'user'}-${i}` } });
      return { ltik: launch.ltik, userId: launch.userId, lineItemId: launch.lineItemId };
    }),
  fail: (fault) => emulator.fail({ ...fault, times: fault.times === 'Infinity' ? Infinity : fault.times, path: fault.pathRegExp ? new RegExp(fault.pathRegExp) : fault.path }),
  clearFaults: () => emulator.clearFaults(),
  setLatency: (ms) => emulator.setLatency(ms),
  unreachable: () => emulator.unreachable(),
  reachable: () => emulator.reachable(),
  requestCount: () => emulator.countRequests(),
  countRequests: (filter) => emulator.countRequests({ ...filter, path: filter.pathRegExp ? new RegExp(filter.pathRegExp) : filter.path }),
  clearRequests: () => emulator.clearRequests(),
  acceptedScores: ({ contextId }) => emulator.lineItems({ contextId }).reduce((sum, item) => sum + item.scores.length, 0),
  lineItemCount: ({ contextId }) => emulator.lineItems({ contextId }).length,
  close: () => emulator.close(),
};

process.on('message', async ({ id, command, args }) => {
  try {
    process.send({ id, result: await commands[command](args) });
  } catch (error) {
    process.send({ id, error: error.message });
  }
});

// The benchmark went away (finished or crashed): do not linger holding a port.
process.on('disconnect', () => process.exit(0));
