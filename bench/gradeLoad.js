// The load of the grade benchmark: students finishing the quiz at once, each posting its next grade as soon as the last one was answered.
const http = require('node:http');
const { answersScoring } = require('./gradeTools/scoreQuiz');

/** One student's submission; anything but 200 { status: 'submitted' } stops the benchmark. */
function finishQuiz(agent, port, quizId, ltik, points) {
  const payload = JSON.stringify({ answers: answersScoring(points) });
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        agent,
        hostname: '127.0.0.1',
        port,
        method: 'POST',
        path: `/quiz/${quizId}/finish?ltik=${encodeURIComponent(ltik)}`,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) },
      },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (response.statusCode !== 200 || !text.includes('"status":"submitted"')) {
            reject(new Error(`POST /quiz/${quizId}/finish answered ${response.statusCode}: ${text.slice(0, 300)}`));
          } else {
            resolve();
          }
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(payload);
  });
}

/** A load generator for one tool, with its own kept-alive connections (one per student). */
function gradeLoad({ port, quizId, students }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: students });
  return {
    /**
     * `ltiks[g][s]` is student s's ltik for its g-th grade: every student works through its
     * list, one grade at a time, all students at once (a short last row leaves some students
     * one grade fewer). Resolves the wall time in ms.
     */
    async submit(ltiks) {
      const started = performance.now();
      await Promise.all(
        Array.from({ length: ltiks[0].length }, async (_, s) => {
          for (let g = 0; g < ltiks.length && ltiks[g][s] !== undefined; g++) await finishQuiz(agent, port, quizId, ltiks[g][s], (s + g) % 11);
        }),
      );
      return performance.now() - started;
    },
    close: () => agent.destroy(),
  };
}

module.exports = { gradeLoad };
