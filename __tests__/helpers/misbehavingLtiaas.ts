// A raw node:http proxy in front of the emulator that rewrites chosen answers, playing an LTIAAS that lies or garbles.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ltiaasGrades, type LtiaasGrades, type LtiaasGradesOptions } from 'express-ltiaas-grades';
import { startEmulator, type LtiaasEmulator } from 'express-ltiaas-grades/testing';
import { API_KEY } from './harness';

/** An answer as it left the emulator (or as the rule rewrote it). */
export interface Answer {
  status: number;
  body: string;
}

export interface AnswerRule {
  method: string;
  /** The request's path without its query, exactly, or a RegExp tested on it. */
  path: string | RegExp;
  /** How many matching answers to rewrite; default every one. */
  times?: number;
  rewrite(answer: Answer): Answer;
}

/** A rewrite of a JSON answer: parse it, change it, send it back serialised. */
export const editJson =
  (edit: (body: any) => unknown) =>
  (answer: Answer): Answer => ({ status: answer.status, body: JSON.stringify(edit(JSON.parse(answer.body))) });

export interface MisbehavingLtiaas {
  /** The real emulator behind the proxy: its grade book and request log are the truth. */
  emulator: LtiaasEmulator;
  /** A grades instance pointed at the proxy. */
  grades: LtiaasGrades;
  /** Rewrites the answers of the calls the rule matches, after the emulator acted on them. */
  rewrite(rule: AnswerRule): void;
  clearRules(): void;
  close(): Promise<void>;
}

export async function startMisbehavingLtiaas(gradesOptions: Partial<LtiaasGradesOptions> = {}): Promise<MisbehavingLtiaas> {
  const emulator = await startEmulator({ apiKey: API_KEY, pageSize: 3 });
  const target = new URL(emulator.url);
  const agent = new http.Agent({ keepAlive: true });
  const rules: Array<{ rule: AnswerRule; remaining: number }> = [];

  const server = http.createServer((req, res) => {
    const forwarded = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          let out: Answer = { status: answer.statusCode ?? 502, body: Buffer.concat(chunks).toString('utf8') };
          const path = (req.url ?? '').split('?')[0];
          const match = rules.find(
            ({ rule, remaining }) =>
              remaining > 0 && rule.method === req.method && (typeof rule.path === 'string' ? rule.path === path : rule.path.test(path ?? '')),
          );
          if (match) {
            match.remaining -= 1;
            out = match.rule.rewrite(out);
          }
          const headers = { ...answer.headers };
          delete headers['transfer-encoding'];
          headers['content-length'] = String(Buffer.byteLength(out.body));
          res.writeHead(out.status, headers);
          res.end(out.body);
        });
      },
    );
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const grades = ltiaasGrades({ ltiaasUrl: url, apiKey: API_KEY, retry: { retries: 0 }, ...gradesOptions });
  return {
    emulator,
    grades,
    rewrite(rule) {
      rules.push({ rule, remaining: rule.times ?? Infinity });
    },
    clearRules() {
      rules.length = 0;
    },
    async close() {
      await grades.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
      await emulator.close();
    },
  };
}
