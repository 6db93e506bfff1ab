// The one dead-letter wording of a grade given up after maxAgeMs, shared by the file and BullMQ outboxes.
import { gaveUpMessage, humanDuration } from '../src/outbox/gaveUpMessage';

describe('gaveUpMessage()', () => {
  it.each([
    [7 * 86_400_000, '7 days'],
    [2 * 86_400_000, '2 days'],
    [36 * 3_600_000, '36 h'],
    [86_400_000, '24 h'],
    [90 * 60_000, '2 h'],
    [20 * 60_000, '20 min'],
    [1000, '1 s'],
    [59_400, '59 s'],
  ])('words %d ms as "%s"', (ms, words) => {
    expect(humanDuration(ms)).toBe(words);
  });

  it('names the age and the last failure', () => {
    expect(gaveUpMessage(7 * 86_400_000, 'LTIAAS did not answer.')).toBe('Gave up after 7 days: LTIAAS did not answer.');
  });
});
