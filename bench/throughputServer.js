// The server measured by the throughput benchmark: a bare route, a no-op middleware route, and the package's middleware.
const express = require('express');
const { ltiaasGrades } = require('express-ltiaas-grades');

const grades = ltiaasGrades({ ltiaasUrl: 'http://127.0.0.1:9', apiKey: 'bench-api-key-0123456' });
const app = express();
const page = (req, res) => {
  res.json({ ok: true });
};
app.get('/bare', page);
// Express's own cost of one more handler, for reference: what any middleware pays.
app.get('/with-noop', (req, res, next) => next(), page);
// The middleware as a tool mounts it: on every request, including pages that never grade.
app.get('/with-middleware', grades.middleware(), page);
const server = app.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));

// The benchmark asks for this process's CPU time around each load, to charge CPU per request.
process.on('message', (message) => {
  if (message === 'cpu') {
    const { user, system } = process.cpuUsage();
    process.send({ cpuMicros: user + system });
    return;
  }
  server.close();
  process.exit(0);
});
