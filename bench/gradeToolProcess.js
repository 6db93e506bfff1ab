// Starts bench/gradeToolServer.js for one tool and calls it like a local object: `await tool.call('cpu')`.
const { fork } = require('node:child_process');
const path = require('node:path');

/** `execArgv` adds Node flags to the tool's process, e.g. ['--cpu-prof', '--cpu-prof-dir', dir]. */
async function startGradeTool(kind, options, { execArgv = [] } = {}) {
  const child = fork(path.join(__dirname, 'gradeToolServer.js'), [kind], { stdio: 'inherit', execArgv });
  let nextId = 0;
  const waiting = new Map();
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.on('message', ({ id, result, error }) => {
    const { resolve, reject } = waiting.get(id);
    waiting.delete(id);
    if (error) reject(new Error(`${kind} tool: ${error}`));
    else resolve(result);
  });
  const call = (command, args) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      child.send({ id, command, args });
    });
  const { port } = await call('start', options);
  return {
    kind,
    port,
    call,
    /** Stops the server and waits for the process to exit (and write its profile, if asked to). */
    async stop() {
      await call('stop');
      return exited;
    },
  };
}

module.exports = { startGradeTool };
