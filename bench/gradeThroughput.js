// Grades per second through the package as README.md mounts it, against two hand-written tools: the protocol floor and the LTIAAS guide's pattern.
const { gradeLoad } = require('./gradeLoad');
const { startGradeTool } = require('./gradeToolProcess');
const { startRemoteEmulator } = require('./remoteEmulator');

const LATENCY_MS = 20;
const STUDENTS = 16;
const CONTEXT = 'grade-throughput';

/** The three tools, each posting to its own column (quiz id) in one course. */
const TOOLS = [
  { kind: 'package', quizId: '1' },
  { kind: 'floor', quizId: '2' },
  { kind: 'guide', quizId: '3' },
];

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/**
 * `ltiks[g][s]`: a new launch of student s for each of its `gradesPerStudent` grades, as when a
 * student opens the activity from the LMS and finishes it. The same 16 students every time.
 */
async function freshLaunches(emulator, gradesPerStudent) {
  const ltiks = [];
  for (let g = 0; g < gradesPerStudent; g++) {
    const launches = await emulator.call('launchMany', { count: STUDENTS, description: { context: { id: CONTEXT }, userPrefix: 'student' } });
    ltiks.push(launches.map((launch) => launch.ltik));
  }
  return ltiks;
}

/**
 * Each round runs the three tools back to back (the order rotating round by round), each
 * submitting `gradesPerRound` grades from 16 students at once, against the emulator answering
 * every call after 20 ms. The machine is shared, so a single figure swings: each round gives a
 * paired ratio per comparison, and the median of those is reported.
 * `launchPerGrade: false` re-submits within the students' first launches instead (the package
 * then reads each ID token once; the hand-written tools read it on every grade).
 */
async function run({ rounds = 11, gradesPerRound = 400, launchPerGrade = true, log = () => {} } = {}) {
  if (gradesPerRound % STUDENTS !== 0) throw new Error(`gradesPerRound must be a multiple of ${STUDENTS}`);
  const gradesPerStudent = gradesPerRound / STUDENTS;
  const emulator = await startRemoteEmulator({ latencyMs: LATENCY_MS });
  const [setup] = await emulator.call('launchMany', { count: 1, description: { context: { id: CONTEXT }, userPrefix: 'setup' } });
  const tools = {};
  for (const { kind, quizId } of TOOLS) {
    const tool = await startGradeTool(kind, { ltiaasUrl: emulator.url, apiKey: emulator.apiKey, quizId, setupLtik: setup.ltik });
    tools[kind] = { tool, load: gradeLoad({ port: tool.port, quizId, students: STUDENTS }) };
  }
  const kinds = TOOLS.map((t) => t.kind);
  const firstLaunches = launchPerGrade ? undefined : await freshLaunches(emulator, 1);
  const ltiksFor = async (count) => (firstLaunches ? Array.from({ length: count }, () => firstLaunches[0]) : freshLaunches(emulator, count));

  // Warm-up, not measured: one lone grade each (the guide's tool creates its column once, not
  // 16 times in a race), then a full round each for the JIT and the connections.
  for (const kind of kinds) await tools[kind].load.submit([(await ltiksFor(1))[0].slice(0, 1)]);
  for (const kind of kinds) await tools[kind].load.submit(await ltiksFor(gradesPerStudent));

  const rate = { package: [], floor: [], guide: [] };
  const cpuPerGrade = { package: [], floor: [], guide: [] };
  const ratios = { floor: [], guide: [] };
  for (let round = 0; round < rounds; round++) {
    const order = [...kinds.slice(round % kinds.length), ...kinds.slice(0, round % kinds.length)];
    const thisRound = {};
    for (const kind of order) {
      const { tool, load } = tools[kind];
      const ltiks = await ltiksFor(gradesPerStudent);
      const scoresBefore = await emulator.call('acceptedScores', { contextId: CONTEXT });
      const cpuBefore = await tool.call('cpu');
      const ms = await load.submit(ltiks);
      const cpuAfter = await tool.call('cpu');
      const stored = (await emulator.call('acceptedScores', { contextId: CONTEXT })) - scoresBefore;
      if (stored !== gradesPerRound) throw new Error(`${kind}: the LMS stored ${stored} of ${gradesPerRound} scores`);
      thisRound[kind] = (gradesPerRound / ms) * 1000;
      rate[kind].push(thisRound[kind]);
      cpuPerGrade[kind].push((cpuAfter - cpuBefore) / gradesPerRound);
    }
    ratios.floor.push(thisRound.package / thisRound.floor);
    ratios.guide.push(thisRound.package / thisRound.guide);
    log(
      `round ${round + 1}/${rounds}: ` +
        kinds.map((kind) => `${kind} ${thisRound[kind].toFixed(0)}/s`).join(', ') +
        `; package/floor ${ratios.floor.at(-1).toFixed(3)}, package/guide ${ratios.guide.at(-1).toFixed(3)}`,
    );
  }

  const lineItems = await emulator.call('lineItemCount', { contextId: CONTEXT });
  for (const kind of kinds) {
    tools[kind].load.close();
    await tools[kind].tool.stop();
  }
  await emulator.close();
  const summary = (values) => Math.round(median(values));
  return {
    latencyMs: LATENCY_MS,
    students: STUDENTS,
    gradesPerRound,
    rounds,
    launchPerGrade,
    gradesPerSec: { package: summary(rate.package), floor: summary(rate.floor), guide: summary(rate.guide) },
    cpuMicrosPerGrade: { package: summary(cpuPerGrade.package), floor: summary(cpuPerGrade.floor), guide: summary(cpuPerGrade.guide) },
    vsFloor: median(ratios.floor),
    vsGuide: median(ratios.guide),
    ratios,
    vsFloorTarget: 0.95,
    vsGuideTarget: 1.3,
    columns: lineItems,
  };
}

module.exports = { run };
if (require.main === module) {
  const sameLaunch = process.argv.includes('--same-launch');
  run({ launchPerGrade: !sameLaunch, log: (line) => process.stderr.write(`${line}\n`) }).then((result) => console.log(JSON.stringify(result, null, 2)));
}
