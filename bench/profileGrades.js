// CPU profile (node --cpu-prof) of the package's tool while it submits 1,000 grades, ranked by self time.
// Usage: npx tsup --silent && node bench/profileGrades.js [--tool package|floor|guide] [--grades 1000] [--top 15]
const { promises: fs } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { summarizeProfile, formatSummary } = require('./cpuProfileSummary');
const { gradeLoad } = require('./gradeLoad');
const { startGradeTool } = require('./gradeToolProcess');
const { startRemoteEmulator } = require('./remoteEmulator');

const LATENCY_MS = 20;
const STUDENTS = 16;
const CONTEXT = 'grade-profile';

function argument(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : process.argv[at + 1];
}

/** `ltiks[g][s]`: a new launch of student s for each grade, `grades` in all (the last row may be short). */
async function launches(emulator, grades) {
  const ltiks = [];
  for (let left = grades; left > 0; left -= STUDENTS) {
    const batch = await emulator.call('launchMany', { count: STUDENTS, description: { context: { id: CONTEXT }, userPrefix: 'student' } });
    ltiks.push(batch.slice(0, left).map((launch) => launch.ltik));
  }
  return ltiks;
}

/**
 * The tool runs under --cpu-prof for its whole life; only the samples taken while the measured
 * grades were submitted are ranked (start-up, warm-up and shutdown are left out), found by
 * reading the tool's monotonic clock, which the profile's timestamps share.
 */
async function run({ tool: kind = 'package', grades = 1000, top = 15, intervalMicros = 250 } = {}) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-cpu-profile-'));
  const emulator = await startRemoteEmulator({ latencyMs: LATENCY_MS });
  const [setup] = await emulator.call('launchMany', { count: 1, description: { context: { id: CONTEXT }, userPrefix: 'setup' } });
  const tool = await startGradeTool(
    kind,
    { ltiaasUrl: emulator.url, apiKey: emulator.apiKey, quizId: '1', setupLtik: setup.ltik },
    { execArgv: ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-name', `${kind}.cpuprofile`, '--cpu-prof-interval', String(intervalMicros)] },
  );
  const load = gradeLoad({ port: tool.port, quizId: '1', students: STUDENTS });
  await load.submit(await launches(emulator, 1));
  await load.submit(await launches(emulator, 400));

  const measured = await launches(emulator, grades);
  const cpuBefore = await tool.call('cpu');
  const startMicros = await tool.call('clock');
  const ms = await load.submit(measured);
  const endMicros = await tool.call('clock');
  const cpuAfter = await tool.call('cpu');
  load.close();
  await tool.stop();
  await emulator.close();

  const file = path.join(dir, `${kind}.cpuprofile`);
  const profile = JSON.parse(await fs.readFile(file, 'utf8'));
  const gradeCount = measured.reduce((sum, row) => sum + row.length, 0);
  const summary = summarizeProfile(profile, { window: { startMicros, endMicros }, top });
  return { file, tool: kind, grades: gradeCount, gradesPerSec: (gradeCount / ms) * 1000, cpuMicrosPerGrade: (cpuAfter - cpuBefore) / gradeCount, summary };
}

module.exports = { run };
if (require.main === module) {
  run({ tool: argument('tool', 'package'), grades: Number(argument('grades', 1000)), top: Number(argument('top', 15)) }).then((result) => {
    console.log(
      `${result.tool}: ${result.grades} grades, 16 students, ${LATENCY_MS} ms latency, ${result.gradesPerSec.toFixed(0)} grades/s, ` +
        `${result.cpuMicrosPerGrade.toFixed(0)} us of CPU per grade (process.cpuUsage: every thread, the profiler's included). ` +
        'The profile\'s "busy" below is the main thread\'s wall time outside the idle loop, including time the OS gave to other processes.',
    );
    console.log(formatSummary(result.summary, { grades: result.grades }));
    console.log(`\nprofile: ${result.file} (open it in Chrome DevTools > Performance)`);
  });
}
