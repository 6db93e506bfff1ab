// The middleware's own CPU cost per request, timed in-process over a million calls (immune to load noise).
const { ltiaasGrades } = require('express-ltiaas-grades');

const LTIK = `eyJhbGciOiJIUzI1NiJ9.${'x'.repeat(600)}.signature`;

function run({ calls = 1_000_000 } = {}) {
  const grades = ltiaasGrades({ ltiaasUrl: 'http://127.0.0.1:9', apiKey: 'bench-api-key-0123456' });
  const middleware = grades.middleware();
  const cases = {
    withLtik: { url: `/page?ltik=${LTIK}`, originalUrl: `/page?ltik=${LTIK}`, headers: {}, body: undefined },
    withoutLtik: { url: '/page?x=1', originalUrl: '/page?x=1', headers: {}, body: undefined },
  };
  const result = {};
  let nexts = 0;
  const next = () => {
    nexts += 1;
  };
  for (const [name, req] of Object.entries(cases)) {
    for (let i = 0; i < calls / 10; i++) middleware(req, {}, next);
    const started = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) middleware(req, {}, next);
    result[`${name}Ns`] = Number(process.hrtime.bigint() - started) / calls;
  }
  if (nexts === 0) throw new Error('the middleware never called next');
  return result;
}

module.exports = { run };
if (require.main === module) console.log(run());
