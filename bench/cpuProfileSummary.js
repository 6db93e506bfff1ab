// Reads a .cpuprofile (as `node --cpu-prof` writes it) and ranks functions by self time, optionally within a time window.
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');

/** Where a function lives, short: `node_modules/joi/lib/base.js:123`, `dist/index.js:456`, `node:internal/...`. */
function whereOf(callFrame) {
  const { url, lineNumber } = callFrame;
  if (!url) return '';
  let file = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  if (file.startsWith(ROOT)) file = path.relative(ROOT, file);
  // Line numbers in a profile are 0-based.
  return lineNumber >= 0 ? `${file}:${lineNumber + 1}` : file;
}

/** Who the code belongs to: an npm package, this package's build, Node itself, or V8 (GC, idle, program). */
function ownerOf(callFrame) {
  const where = whereOf(callFrame);
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(where);
  if (inModules) return inModules[1];
  if (where.startsWith('dist/')) return 'express-ltiaas-grades (dist)';
  if (where.startsWith('bench/')) return 'bench tool code';
  if (where.startsWith('node:')) return 'node core';
  if (where === '') return callFrame.functionName.startsWith('(') ? 'v8' : 'native';
  return where;
}

/**
 * Self time per function (summed over every call path), from the samples: each sample is
 * charged the time until the next one, as Chrome DevTools does. `window` ({ startMicros,
 * endMicros }, on the profile's clock) keeps only the samples taken inside it.
 */
function summarizeProfile(profile, { window, top = 15 } = {}) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const selfByNode = new Map();
  let at = profile.startTime;
  let totalMicros = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i];
    const next = i + 1 < profile.timeDeltas.length ? profile.timeDeltas[i + 1] : 0;
    if (window && (at < window.startMicros || at > window.endMicros)) continue;
    selfByNode.set(profile.samples[i], (selfByNode.get(profile.samples[i]) ?? 0) + next);
    totalMicros += next;
  }
  const byFunction = new Map();
  const byOwner = new Map();
  for (const [id, micros] of selfByNode) {
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || '(anonymous)';
    const where = whereOf(callFrame);
    const key = `${name}\u0000${where}`;
    const entry = byFunction.get(key) ?? { functionName: name, where, owner: ownerOf(callFrame), micros: 0 };
    entry.micros += micros;
    byFunction.set(key, entry);
    if (name === '(idle)') continue;
    const owner = ownerOf(callFrame);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + micros);
  }
  // Total (inclusive) time: a sample counts once for every distinct function and owner on its stack.
  const totalByFunction = new Map();
  const totalByOwner = new Map();
  for (const [id, micros] of selfByNode) {
    const functions = new Set();
    const owners = new Set();
    for (let at = id; at !== undefined; at = parentOf.get(at)) {
      const { callFrame } = byId.get(at);
      if (callFrame.functionName === '(idle)') break;
      const where = whereOf(callFrame);
      functions.add(`${callFrame.functionName || '(anonymous)'}\u0000${where}`);
      owners.add(ownerOf(callFrame));
    }
    for (const key of functions) totalByFunction.set(key, (totalByFunction.get(key) ?? 0) + micros);
    for (const owner of owners) totalByOwner.set(owner, (totalByOwner.get(owner) ?? 0) + micros);
  }
  const idleMicros = [...byFunction.values()].filter((e) => e.functionName === '(idle)').reduce((sum, e) => sum + e.micros, 0);
  const busyMicros = totalMicros - idleMicros;
  const rank = (entries) => entries.sort((a, b) => b.micros - a.micros);
  const withShare = (entry) => ({ ...entry, ms: entry.micros / 1000, percentOfBusy: (entry.micros / busyMicros) * 100 });
  return {
    windowMs: totalMicros / 1000,
    busyMs: busyMicros / 1000,
    idleMs: idleMicros / 1000,
    functions: rank([...byFunction.values()].filter((e) => e.functionName !== '(idle)')).slice(0, top).map(withShare),
    owners: rank([...byOwner].map(([owner, micros]) => ({ owner, micros, totalMicros: totalByOwner.get(owner) ?? 0 }))).map(withShare),
    /** This package's own functions by total time (themselves and everything they call). */
    packageTotals: rank(
      [...totalByFunction]
        .map(([key, micros]) => {
          const [functionName, where] = key.split('\u0000');
          return { functionName, where, micros };
        })
        .filter((entry) => entry.where.startsWith('dist/')),
    )
      .slice(0, top)
      .map(withShare),
  };
}

/** The summary as text tables. */
function formatSummary(summary, { grades } = {}) {
  const lines = [];
  const perGrade = grades ? ` = ${((summary.busyMs * 1000) / grades).toFixed(0)} us per grade` : '';
  lines.push(`window ${summary.windowMs.toFixed(0)} ms: busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms${perGrade}`);
  lines.push('');
  lines.push('| # | self ms | % of busy | function | where |');
  lines.push('|---|---|---|---|---|');
  summary.functions.forEach((f, i) => lines.push(`| ${i + 1} | ${f.ms.toFixed(1)} | ${f.percentOfBusy.toFixed(1)} | ${f.functionName} | ${f.where} |`));
  lines.push('');
  lines.push('| owner | self ms | self % of busy | total % of busy (on the stack) |');
  lines.push('|---|---|---|---|');
  for (const o of summary.owners) {
    lines.push(`| ${o.owner} | ${o.ms.toFixed(1)} | ${o.percentOfBusy.toFixed(1)} | ${((o.totalMicros / 1000 / summary.busyMs) * 100).toFixed(1)} |`);
  }
  if (summary.packageTotals.length > 0) {
    lines.push('');
    lines.push('| this package\'s functions by total time | total ms | % of busy | where |');
    lines.push('|---|---|---|---|');
    for (const f of summary.packageTotals) lines.push(`| ${f.functionName} | ${f.ms.toFixed(1)} | ${f.percentOfBusy.toFixed(1)} | ${f.where} |`);
  }
  return lines.join('\n');
}

module.exports = { summarizeProfile, formatSummary };

if (require.main === module) {
  // node bench/cpuProfileSummary.js file.cpuprofile [top]
  const profile = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'));
  console.log(formatSummary(summarizeProfile(profile, { top: Number(process.argv[3] ?? 15) })));
}
