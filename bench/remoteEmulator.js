// Starts bench/emulatorProcess.js and calls it like a local object: `await emulator.call('launch', {...})`.
const { fork } = require('node:child_process');
const path = require('node:path');

async function startRemoteEmulator(options = {}) {
  const child = fork(path.join(__dirname, 'emulatorProcess.js'), { stdio: 'inherit' });
  let nextId = 0;
  const waiting = new Map();
  child.on('message', ({ id, result, error }) => {
    const { resolve, reject } = waiting.get(id);
    waiting.delete(id);
    if (error) reject(new Error(error));
    else resolve(result);
  });
  const call = (command, args) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      child.send({ id, command, args });
    });
  const { url, apiKey } = await call('start', options);
  return {
    url,
    apiKey,
    call,
    async close() {
      await call('close');
      child.kill();
    },
  };
}

module.exports = { startRemoteEmulator };
