// What the README says in prose, checked against the package: the misspelt-option hint, the emulator's launch() keys, where a service key record's ids come from, the benchmark arithmetic.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ltiaasGrades, type ServiceKeyRecord, type ServiceKeyStore } from 'express-ltiaas-grades';
import { startEmulator } from 'express-ltiaas-grades/testing';

let readme: string;

beforeAll(async () => {
  readme = await fs.readFile(path.resolve(__dirname, '..', 'README.md'), 'utf8');
});

/** Whether `stated` (rounded to 2 decimals) is x / y for some x and y within their own rounding. */
function ratioFits(x: number, xRounding: number, y: number, yRounding: number, stated: number): boolean {
  const lowest = (x - xRounding) / (y + yRounding);
  const highest = (x + xRounding) / (y - yRounding);
  return stated + 0.005 >= lowest && stated - 0.005 <= highest;
}

const roundingOf = (figure: string): number => (figure.includes('.') ? 0.5 * 10 ** -figure.split('.')[1]!.length : 0.5);

describe('README claims', () => {
  it('quotes the misspelt-option hint in the words ltiaasGrades() throws', () => {
    const quoted = /`(ltiaasGrades\(\): unknown option "apikey": did you mean "apiKey"\?)`/.exec(readme)?.[1];
    expect(quoted).toBeDefined();
    // The README's case: the key is misspelt, so apiKey is also missing; the hint must still show.
    // @ts-expect-error: the misspelt key is the point
    expect(() => ltiaasGrades({ ltiaasUrl: 'https://your.ltiaas.com', apikey: 'k'.repeat(32) })).toThrow(quoted!);
  });

  it("lists the keys emulator.launch() returns, with serviceKey only when grading is available and lineItemId only with a lineItem", async () => {
    const bullet = readme.split('\n- ').find((item) => item.startsWith('`launch({'));
    expect(bullet).toBeDefined();
    const listed = /returns `\{ ([^}]+) \}`/.exec(bullet!)![1]!.split(', ');
    expect(bullet).toMatch(/plus `serviceKey` when grading is available/);
    expect(bullet).toMatch(/`lineItemId` when a `lineItem` is given/);
    const emulator = await startEmulator();
    try {
      const keysOf = (launch: object) => Object.keys(launch).sort();
      expect(keysOf(emulator.launch({ grades: false }))).toEqual([...listed].sort());
      expect(keysOf(emulator.launch())).toEqual([...listed, 'serviceKey'].sort());
      expect(keysOf(emulator.launch({ lineItem: { label: 'Lab', scoreMaximum: 5 } }))).toEqual([...listed, 'serviceKey', 'lineItemId'].sort());
    } finally {
      await emulator.close();
    }
  });

  it('says where a service key record\'s platformId, contextId and resourceLinkId come from: the ID token fields the store is given', async () => {
    const section = readme.slice(readme.indexOf('### Grading outside a launch'));
    const stated = /platformId = token\.([\w.]+), contextId = token\.([\w.]+), resourceLinkId = token\.([\w.]+)\./.exec(section);
    expect(stated).not.toBeNull();
    const [, platformPath, contextPath, resourceLinkPath] = stated!;
    const emulator = await startEmulator();
    const saved: ServiceKeyRecord[] = [];
    const store: ServiceKeyStore = {
      save: async (record) => void saved.push(record),
      get: async () => undefined,
      list: async () => saved,
    };
    const grades = ltiaasGrades({ ltiaasUrl: emulator.url, apiKey: emulator.apiKey, serviceKeyStore: store });
    try {
      // Three different ids, so a path that names the wrong one cannot pass.
      const launch = emulator.launch({ platform: { id: 'platform-readme' }, context: { id: 'course-readme' }, resourceLink: { id: 'link-readme' } });
      const token = await grades.forLaunch(launch.ltik).idToken();
      const at = (dotted: string): unknown => dotted.split('.').reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], token);
      expect(saved).toHaveLength(1);
      expect({ platformId: at(platformPath!), contextId: at(contextPath!), resourceLinkId: at(resourceLinkPath!) }).toEqual({
        platformId: saved[0]!.platformId,
        contextId: saved[0]!.contextId,
        resourceLinkId: saved[0]!.resourceLinkId,
      });
      expect(saved[0]).toMatchObject({ platformId: 'platform-readme', contextId: 'course-readme', resourceLinkId: 'link-readme' });
    } finally {
      await grades.close();
      await emulator.close();
    }
  });

  it('states ratios in the benchmark table that its own figures give', () => {
    const from = readme.indexOf('## Benchmarks');
    const section = readme.slice(from, readme.indexOf('\n## ', from + 1));
    const wrong: string[] = [];
    // "A vs B req/s = R" (or "R (A vs B req/s")
    const rates = [...section.matchAll(/(?:(\d+\.\d+) \()?(\d+) vs (\d+) req\/s(?: = (\d+\.\d+))?/g)];
    for (const [claim, before, a, b, after] of rates) {
      const ratio = before ?? after;
      if (ratio === undefined || !ratioFits(Number(a), 0.5, Number(b), 0.5, Number(ratio))) wrong.push(claim);
    }
    // "X s = R x the Y s", and later rows' "X s = R x" against the same Y.
    let baseline: string | undefined;
    const times = [...section.matchAll(/(\d+(?:\.\d+)?) s = (\d+\.\d+) x(?: the (\d+(?:\.\d+)?) s)?/g)];
    for (const [claim, x, ratio, y] of times) {
      baseline = y ?? baseline;
      if (baseline === undefined || !ratioFits(Number(x), roundingOf(x!), Number(baseline), roundingOf(baseline), Number(ratio))) wrong.push(claim);
    }
    expect(rates.length + times.length).toBeGreaterThanOrEqual(3);
    expect(wrong).toEqual([]);
  });
});
