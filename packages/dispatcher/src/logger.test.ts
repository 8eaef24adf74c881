import { describe, expect, it } from 'vitest';
import { createKoyoLogger } from './logger.js';

describe('createKoyoLogger', () => {
  it('writes gem-style key=value lines, quoting only when needed, from the chosen level', () => {
    const lines: string[] = [];
    const logger = createKoyoLogger({ level: 'info', write: (line) => void lines.push(line) });
    logger.debug({ a: 1 }, 'hidden');
    logger.info(
      { slot: 'orders', lag: 12n, note: 'two words', error: new Error('bad "x"') },
      'dispatcher started',
    );
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^source=koyo logid=[0-9a-f]{10} level=info message="dispatcher started" slot=orders lag=12 note="two words" error="bad \\"x\\""\n$/,
    );
  });
});
