import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { CopyFramer } from './_copy-out.js';

/** A protocol message: type byte, int32 length (counting itself), payload. */
function message(type: string, payload: string): Buffer {
  const body = Buffer.from(payload);
  const out = Buffer.alloc(5 + body.length);
  out.write(type, 0, 'latin1');
  out.writeUInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

describe('CopyFramer', () => {
  // CopyOutResponse, rows (one long), CopyDone, CommandComplete, a NOTICE, ReadyForQuery.
  const rows = ['1\ta\n', `2\t${'b'.repeat(70_000)}\n`, '3\t\n', '', '4\tc\n'];
  const others = [message('H', '\0\0\0'), message('c', ''), message('C', 'COPY 5\0')];
  const stream = Buffer.concat([
    others[0]!,
    ...rows.map((row) => message('d', row)),
    others[1]!,
    others[2]!,
    message('N', 'notice\0'),
    message('Z', 'I'),
  ]);

  it.each([1, 2, 3, 4, 5, 6, 7, 13, 64, 4096, 65_536, stream.length])(
    'hands CopyData to the sink and every other message to pg, whole and in order, in reads of %i bytes',
    (step) => {
      const toPg: Buffer[] = [];
      const events: string[] = [];
      const framer = new CopyFramer((bytes) => {
        toPg.push(Buffer.from(bytes));
        events.push('pg');
      });
      const sunk: string[] = [];
      framer.sink = (buf, start, end, count, last) => {
        let messages = 0;
        let lastSeen = -1;
        for (let p = start; p < end; p += 1 + buf.readUInt32BE(p + 1)) {
          messages++;
          lastSeen = p;
          expect(String.fromCharCode(buf[p]!)).toBe('d');
          sunk.push(buf.toString('utf8', p + 5, p + 1 + buf.readUInt32BE(p + 1)));
        }
        expect(count).toBe(messages);
        expect(last).toBe(lastSeen);
        events.push('rows');
      };
      for (let at = 0; at < stream.length; at += step)
        framer.onData(stream.subarray(at, at + step));
      expect(sunk).toStrictEqual(rows);
      const forwarded = Buffer.concat(toPg);
      const expected = Buffer.concat([...others, message('N', 'notice\0'), message('Z', 'I')]);
      expect(forwarded.equals(expected)).toBe(true);
      // pg gets each piece as whole messages: every forwarded piece parses to its end.
      for (const piece of toPg) {
        let p = 0;
        while (p < piece.length) p += 1 + piece.readUInt32BE(p + 1);
        expect(p).toBe(piece.length);
      }
      expect(events[0]).toBe('pg'); // CopyOutResponse before the first row
      expect(events.at(-1)).toBe('pg');
    },
  );

  it('hands everything to pg while no COPY of its own runs', () => {
    const toPg: Buffer[] = [];
    const framer = new CopyFramer((bytes) => toPg.push(Buffer.from(bytes)));
    for (let at = 0; at < stream.length; at += 100) framer.onData(stream.subarray(at, at + 100));
    expect(Buffer.concat(toPg).equals(stream)).toBe(true);
  });
});
