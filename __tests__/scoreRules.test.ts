// Score and line item rules: what is refused before anything is sent, and the validated value sent.
import { validateScore, validateUserScore } from '../src/grades/scoreSchema';
import { validateLineItemSpec } from '../src/grades/lineItemSchema';
import { InProcessScoreClock } from '../src/state/scoreClock';

const refused = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    return error as { code: string; status: number; message: string };
  }
  throw new Error('expected a refusal');
};

describe('score rules', () => {
  it('accepts 0 as a grade and fills the defaults', () => {
    expect(validateScore({ scoreGiven: 0, scoreMaximum: 10 })).toEqual({
      scoreGiven: 0,
      scoreMaximum: 10,
      activityProgress: 'Completed',
      gradingProgress: 'FullyGraded',
    });
  });

  it('accepts extra credit above scoreMaximum', () => {
    expect(validateScore({ scoreGiven: 12, scoreMaximum: 10 }).scoreGiven).toBe(12);
  });

  it('accepts a score without scoreGiven (progress only)', () => {
    expect(validateScore({ activityProgress: 'Started', gradingProgress: 'NotReady' })).toEqual({
      activityProgress: 'Started',
      gradingProgress: 'NotReady',
    });
  });

  it.each([
    [{ scoreGiven: -1, scoreMaximum: 10 }, /scoreGiven.*greater than or equal to 0/],
    [{ scoreGiven: Number.NaN, scoreMaximum: 10 }, /scoreGiven/],
    [{ scoreGiven: Infinity, scoreMaximum: 10 }, /scoreGiven/],
    [{ scoreGiven: '7', scoreMaximum: 10 }, /scoreGiven.*must be a number/],
    [{ scoreGiven: 7 }, /scoreMaximum.*required/],
    [{ scoreGiven: 7, scoreMaximum: 0 }, /scoreMaximum.*greater than 0/],
    [{ scoreGiven: 7, scoreMaximum: Infinity }, /scoreMaximum/],
    [{ scoreGiven: 7, scoreMaximum: 10, activityProgress: 'Initiated' }, /activityProgress/],
    [{ scoreGiven: 7, scoreMaximum: 10, gradingProgress: 'Done' }, /gradingProgress/],
    [{ scoreGiven: 7, scoreMaximum: 10, userId: 'someone-else' }, /"userId" is not allowed: the user is taken from the launch/],
    [{ scoreGiven: 7, scoreMaximum: 10, timestamp: '2020-01-01T00:00:00Z' }, /"timestamp" is not allowed/],
    [{ scoreGiven: 7, scoreMaximum: 10, scoregiven: 7 }, /"scoregiven" is not allowed/],
    [{ scoreGiven: 7, scoreMaximum: 10, submission: { submittedAt: 'yesterday' } }, /submittedAt/],
    [null, /Invalid score/],
  ])('refuses %j with SCORE_INVALID', (input, message) => {
    const error = refused(() => validateScore(input));
    expect(error).toMatchObject({ code: 'SCORE_INVALID', status: 400 });
    expect(error.message).toMatch(message);
  });

  it('normalises dates and passes LMS extension claims through', () => {
    const canvas = 'https://canvas.instructure.com/lti/submission';
    const value = validateScore({
      scoreGiven: 1,
      scoreMaximum: 2,
      submission: { submittedAt: new Date(Date.UTC(2026, 10, 27, 8, 0, 0, 5)), startedAt: '2026-11-27T07:00:00+01:00' },
      [canvas]: { new_submission: true },
    });
    expect(value.submission).toEqual({ submittedAt: '2026-11-27T08:00:00.005Z', startedAt: '2026-11-27T06:00:00.000Z' });
    expect(value[canvas]).toEqual({ new_submission: true });
  });

  it('never mutates the caller\'s object', () => {
    const input = Object.freeze({ scoreGiven: 3, scoreMaximum: 5, submission: Object.freeze({ submittedAt: new Date(0) }) });
    const value = validateScore(input);
    expect(value).not.toBe(input);
    expect(input).toEqual({ scoreGiven: 3, scoreMaximum: 5, submission: { submittedAt: new Date(0) } });
  });

  it('requires a userId on a batch entry', () => {
    expect(refused(() => validateUserScore({ scoreGiven: 1, scoreMaximum: 1 })).message).toMatch(/userId.*required/);
    expect(validateUserScore({ userId: 'u1', scoreGiven: 1, scoreMaximum: 1 }).userId).toBe('u1');
  });
});

describe('line item rules', () => {
  it.each([
    [{ resourceId: 'q1', label: '   ', scoreMaximum: 10 }, /label/],
    [{ resourceId: 'q1', label: 'Quiz', scoreMaximum: 0 }, /scoreMaximum/],
    [{ resourceId: 'q1', label: 'Quiz', scoreMaximum: -5 }, /scoreMaximum/],
    [{ resourceId: ' ', label: 'Quiz', scoreMaximum: 10 }, /resourceId.*blank/],
    [{ label: 'Quiz', scoreMaximum: 10 }, /resourceId.*required/],
  ])('refuses %j with LINE_ITEM_INVALID', (input, message) => {
    const error = refused(() => validateLineItemSpec(input));
    expect(error).toMatchObject({ code: 'LINE_ITEM_INVALID', status: 400 });
    expect(error.message).toMatch(message);
  });

  it('sends the trimmed label', () => {
    expect(validateLineItemSpec({ resourceId: 'q1', label: '  Quiz 1 ', scoreMaximum: 10 }).label).toBe('Quiz 1');
  });

  it('checks a spec of plain values once: the same fields again give the same frozen spec; another type, a Date or a bad value are checked on their own', () => {
    const first = validateLineItemSpec({ resourceId: 'spec-once', label: 'Quiz', scoreMaximum: 10, tag: undefined });
    const again = validateLineItemSpec({ resourceId: 'spec-once', label: 'Quiz', scoreMaximum: 10, tag: undefined });
    expect(again).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    // Modules run in strict mode, where writing to a frozen object throws.
    expect(() => {
      (first as { label: string }).label = 'Changed';
    }).toThrow(TypeError);
    // The same text with another type is another spec, and a string scoreMaximum stays refused.
    expect(refused(() => validateLineItemSpec({ resourceId: 'spec-once', label: 'Quiz', scoreMaximum: '10' }))).toMatchObject({ code: 'LINE_ITEM_INVALID' });
    expect(refused(() => validateLineItemSpec({ resourceId: 'spec-once', label: 'Quiz', scoreMaximum: -10 }))).toMatchObject({ code: 'LINE_ITEM_INVALID' });
    // A Date is not a plain value: checked (and turned into its ISO text) every time.
    const dated = { resourceId: 'spec-dated', label: 'Quiz', scoreMaximum: 10, endDateTime: new Date('2030-01-01T00:00:00Z') };
    const one = validateLineItemSpec(dated);
    expect(one).toMatchObject({ endDateTime: '2030-01-01T00:00:00.000Z' });
    expect(validateLineItemSpec(dated)).not.toBe(one);
    expect(validateLineItemSpec(dated)).toEqual(one);
  });
});

describe('score timestamps', () => {
  it('are ISO 8601 UTC with milliseconds', () => {
    expect(new InProcessScoreClock(() => Date.UTC(2026, 0, 2, 3, 4, 5, 0)).stamp('li', 'u')).toBe('2026-01-02T03:04:05.000Z');
  });

  it('strictly increase per (line item, user) within one millisecond', () => {
    const clock = new InProcessScoreClock(() => 1_000);
    const first = clock.stamp('li', 'u');
    const second = clock.stamp('li', 'u');
    const third = clock.stamp('li', 'u');
    expect(Date.parse(second)).toBe(Date.parse(first) + 1);
    expect(Date.parse(third)).toBe(Date.parse(first) + 2);
    expect(clock.stamp('li', 'other-user')).toBe(first);
    expect(clock.stamp('other-li', 'u')).toBe(first);
  });

  it('come after a timestamp fixed elsewhere (a queued grade) for the same line item and user', () => {
    const clock = new InProcessScoreClock(() => 1_000);
    clock.observe('li', 'u', new Date(5_000).toISOString());
    expect(Date.parse(clock.stamp('li', 'u'))).toBeGreaterThan(5_000);
    expect(Date.parse(clock.stamp('li', 'other'))).toBe(1_000);
  });

  it('stay increasing when the wall clock steps back', () => {
    let now = 5_000;
    const clock = new InProcessScoreClock(() => now);
    const first = clock.stamp('li', 'u');
    now = 4_000;
    expect(Date.parse(clock.stamp('li', 'u'))).toBeGreaterThan(Date.parse(first));
  });
});
