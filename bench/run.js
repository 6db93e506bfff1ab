// Runs every benchmark against the built package and prints the figures as the README's table.
// Usage: npm run bench (or: node --expose-gc bench/run.js [callBudget|instances|throughput|grades|memory|outbox|bullmq ...]).
// The CPU profile of 1,000 grades is separate: node bench/profileGrades.js.
const callBudget = require('./callBudget');
const instancesCallBudget = require('./instancesCallBudget');
const throughput = require('./middlewareThroughput');
const middlewareCost = require('./middlewareCost');
const gradeThroughput = require('./gradeThroughput');
const memory = require('./memory');
const outboxRecovery = require('./outboxRecovery');
const bullmqDrain = require('./bullmqDrain');

const fixed = (value, digits = 2) => Number(value).toFixed(digits);
const pass = (ok) => (ok ? 'met' : 'MISSED');

const benchmarks = {
  async callBudget() {
    const r = await callBudget.run();
    return [
      `| 5 re-submits in one launch | ${r.resubmitCalls} LTIAAS calls | <= ${r.resubmitTarget} | ${pass(r.resubmitCalls <= r.resubmitTarget)} |`,
      `| 50 students in one context | ${r.classCalls} calls = ${fixed(r.callsPerGrade)} per grade, ${r.columnsCreated} column | <= ${r.callsPerGradeTarget} per grade | ${pass(r.callsPerGrade <= r.callsPerGradeTarget)} |`,
    ];
  },
  async instances() {
    const r = await instancesCallBudget.run();
    if (r.skipped) return [`| Calls per grade on 1 vs 3 instances | skipped: ${r.skipped} | | |`];
    const row = (m) => `${m.calls} calls = ${fixed(m.callsPerGrade)} per grade (${m.idTokenReads} ID token reads, ${m.columns} column${m.columns === 1 ? '' : 's'})`;
    const same = r.threeCoordinated.calls === r.oneInstance.calls && r.threeCoordinated.columns === 1;
    return [
      `| ${r.students} students each open the quiz and submit twice, each request on another instance: 1 instance | ${row(r.oneInstance)} | <= ${r.target} per grade | ${pass(r.oneInstance.callsPerGrade <= r.target)} |`,
      `| Same, 3 instances with \`redisCoordination\` | ${row(r.threeCoordinated)} | same as 1 instance, <= ${r.target} | ${pass(same && r.threeCoordinated.callsPerGrade <= r.target)} |`,
      `| Same, 3 instances sharing nothing | ${row(r.threeAlone)} | (no target: what Redis saves) | - |`,
    ];
  },
  async throughput() {
    const r = await throughput.run();
    const cost = middlewareCost.run();
    const share = (cost.withLtikNs / 1000 / r.cpuMicrosPerRequest.bare) * 100;
    return [
      `| Route that does not grade, with the middleware vs bare (autocannon, median of ${r.rounds} paired rounds) | ${fixed(r.ratio)} (${r.middlewareReqPerSec} vs ${r.bareReqPerSec} req/s; a no-op middleware: ${fixed(r.noopRatio)}) | >= ${r.target} | ${pass(r.ratio >= r.target)} |`,
      `| The middleware's own CPU per request (1M calls in-process) | ${fixed(cost.withLtikNs / 1000)} us with a 650-char ltik, ${fixed(cost.withoutLtikNs / 1000)} us without = ${fixed(share, 1)} % of a bare route's ${fixed(r.cpuMicrosPerRequest.bare, 0)} us | | |`,
    ];
  },
  async grades() {
    const r = await gradeThroughput.run({ log: (line) => process.stderr.write(`  ${line}\n`) });
    const { gradesPerSec: rate, cpuMicrosPerGrade: cpu } = r;
    const setting = `${r.students} students, ${r.latencyMs} ms per LTIAAS call, a new launch per grade, median of ${r.rounds} paired rounds of ${r.gradesPerRound}`;
    return [
      `| Grades/s through the package as README mounts it vs the protocol floor (ID token GET + score POST, kept-alive node:http, no checks); ${setting} | ${fixed(r.vsFloor)} (${rate.package} vs ${rate.floor} grades/s; CPU per grade ${cpu.package} vs ${cpu.floor} us) | >= ${fixed(r.vsFloorTarget)} | ${pass(r.vsFloor >= r.vsFloorTarget)} |`,
      `| Same vs the LTIAAS guide's pattern by hand with axios (ID token, list line items, create if missing, post score) | ${fixed(r.vsGuide)} (${rate.package} vs ${rate.guide} grades/s; CPU per grade ${cpu.guide} us) | >= ${fixed(r.vsGuideTarget)} | ${pass(r.vsGuide >= r.vsGuideTarget)} |`,
    ];
  },
  async memory() {
    const r = await memory.run();
    const heap = r.checkpoints.map((c) => `${c.launches / 1000}k: ${fixed(c.heapMb, 1)} MB`).join(', ');
    return [`| Heap after N distinct launches (ID token cache max 10,000) | ${heap}; +${fixed(r.growthFrom10kTo100kMb, 1)} MB from 10k to 100k | flat | ${pass(r.growthFrom10kTo100kMb < 2)} |`];
  },
  async outbox() {
    const r = await outboxRecovery.run();
    const target = `1,000 sequential POSTs / ${r.concurrency} = ${fixed(r.targetMs / 1000, 1)} s`;
    return [
      `| LMS back after an outage: last of 1,000 queued grades delivered (${r.latencyMs} ms latency) | ${fixed(r.lmsDown.recoveryMs / 1000, 1)} s = ${fixed(r.lmsDown.ratio)} x (${target}) | <= ${r.ratioTarget} x | ${pass(r.lmsDown.ratio <= r.ratioTarget)} |`,
      `| LTIAAS back after being unreachable, ID tokens never read: 2 calls per grade | ${fixed(r.unreachable.recoveryMs / 1000, 1)} s = ${fixed(r.unreachable.ratio)} x | (2 calls per grade: >= 2 x) | - |`,
    ];
  },
  async bullmq() {
    const r = await bullmqDrain.run();
    if (r.skipped) return [`| BullMQ outbox drain | skipped: ${r.skipped} | | - |`];
    const target = `1,000 sequential POSTs / ${r.concurrency} = ${fixed(r.targetMs / 1000, 1)} s`;
    return [
      `| BullMQ outbox (redis-server, appendonly yes): LMS back, last of 1,000 queued grades delivered (${r.latencyMs} ms latency, concurrency ${r.concurrency}) | ${fixed(r.recoveryMs / 1000, 1)} s = ${fixed(r.ratio)} x (${target}); the 1,000 were queued in ${fixed(r.enqueueMs / 1000, 1)} s | <= ${r.ratioTarget} x | ${pass(r.ratio <= r.ratioTarget)} |`,
    ];
  },
};

async function main() {
  if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc (npm run bench does)');
  const chosen = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(benchmarks);
  const rows = [];
  for (const name of chosen) {
    process.stderr.write(`running ${name}...\n`);
    rows.push(...(await benchmarks[name]()));
  }
  console.log(`Measured ${new Date().toISOString().slice(0, 10)} on Node ${process.version}, ${require('node:os').cpus().length} cores:\n`);
  console.log('| benchmark | measured | target | |');
  console.log('|---|---|---|---|');
  for (const row of rows) console.log(row);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
