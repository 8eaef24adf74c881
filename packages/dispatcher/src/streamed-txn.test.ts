// When a subtransaction rolls back, can the buffer tell whether a streamed logical message was
// its own? Messages come with the top-level xid, changes with their subtransaction's.
import { afterEach, describe, expect, it } from 'vitest';
import { StreamedTxn, type StreamedItem } from './streamed-txn.js';
import type { Change, LogicalMessage } from './types.js';

const TOP = 100;
let lsn = 0n;
/** Items at increasing LSNs unless told otherwise. */
const change = (id: number, at = (lsn += 0x10n)): StreamedItem => ({
  kind: 'change',
  value: { id } as Change,
  lsn: at,
});
const message = (text: string, at = (lsn += 0x10n)): StreamedItem => ({
  kind: 'message',
  value: { kind: 'message', text } as LogicalMessage,
  lsn: at,
});
const label = (item: StreamedItem): string =>
  item.kind === 'message'
    ? `m:${item.value.text}`
    : item.kind === 'skip'
      ? 'skip'
      : `c:${String(item.value.id)}`;

/** What a test checks after its steps: whether the buffer is unsure whose its messages are, and what it holds. */
const contents = (txn: StreamedTxn) => ({
  uncertain: txn.messagesUncertain,
  items: [...txn.items()].map(label),
});

const open: StreamedTxn[] = [];
/** A buffer that spills to its file past `threshold` items. */
function buffer(threshold = 1000): StreamedTxn {
  const txn = new StreamedTxn(TOP, threshold);
  open.push(txn);
  return txn;
}
afterEach(() => {
  for (const txn of open.splice(0)) txn.discard();
});

describe.each([
  ['in memory', 1000],
  ['spilled to its file', 2],
])('StreamedTxn (%s)', (_, threshold) => {
  it('is uncertain when messages end the buffer right before a rolled-back subtransaction', () => {
    const txn = buffer(threshold);
    txn.add(change(1), TOP);
    txn.add(message('top-or-sub'), TOP);
    txn.add(change(2), 11);
    txn.add(change(3), 11);
    txn.abortSub(11);
    expect(contents(txn)).toEqual({ uncertain: true, items: ['c:1', 'm:top-or-sub'] });
  });

  it('is certain when a change of another subtransaction comes between', () => {
    const txn = buffer(threshold);
    txn.add(message('top'), TOP);
    txn.add(change(1), TOP);
    txn.add(change(2), 11);
    txn.add(message('sub'), TOP); // after the subtransaction's first change: its own
    txn.abortSub(11);
    expect(contents(txn)).toEqual({ uncertain: false, items: ['m:top', 'c:1'] });
  });

  it('is uncertain for a rolled-back subtransaction with no buffered change after a message', () => {
    const txn = buffer(threshold);
    txn.add(change(1), TOP);
    txn.add(message('maybe-sub-only'), TOP);
    txn.abortSub(12); // a subtransaction that had only the message (or nothing we saw)
    expect(contents(txn)).toEqual({ uncertain: true, items: ['c:1', 'm:maybe-sub-only'] });
  });

  it('stays certain without messages, and after later changes the flag does not reset', () => {
    const txn = buffer(threshold);
    txn.add(change(1), TOP);
    txn.add(change(2), 11);
    txn.abortSub(11);
    expect(txn.messagesUncertain).toBe(false);
    txn.add(message('m'), TOP);
    txn.add(change(3), 12);
    txn.abortSub(12);
    expect(txn.messagesUncertain).toBe(true);
    txn.add(change(4), TOP);
    expect(contents(txn)).toEqual({ uncertain: true, items: ['c:1', 'm:m', 'c:4'] });
  });

  it('nested: a released child rolled back with its parent cuts from the earlier start', () => {
    const txn = buffer(threshold);
    txn.add(change(1), TOP);
    txn.add(message('parent'), TOP);
    txn.add(change(2), 21); // child, started before the parent wrote anything itself
    txn.add(change(3), 20); // parent
    txn.abortSub(21);
    txn.abortSub(20);
    expect(contents(txn)).toEqual({ uncertain: true, items: ['c:1', 'm:parent'] });
  });

  it('keeps a message that the server sent after a tied first change of a rolled-back subtransaction', () => {
    // The message's record ends where the subtransaction's first record starts: same LSN, and
    // the server may send either first. It may not be the subtransaction's: keep it, uncertain.
    const txn = buffer(threshold);
    txn.add(change(1), TOP);
    const first = change(2);
    txn.add(first, 11);
    txn.add(message('tied', first.lsn), TOP);
    txn.add(change(3), 11);
    txn.abortSub(11);
    expect(contents(txn)).toEqual({ uncertain: true, items: ['c:1', 'm:tied'] });
  });

  it('is uncertain when a message and a following change tie, even without a rollback', () => {
    const txn = buffer(threshold);
    const tied = message('m');
    txn.add(tied, TOP);
    txn.add(change(1, tied.lsn), 11);
    expect(txn.messagesUncertain).toBe(true);
  });

  it('forgets cut messages: a message removed with its subtransaction does not count', () => {
    const txn = buffer(threshold);
    txn.add(change(1), TOP);
    txn.add(change(2), 11);
    txn.add(message('sub'), TOP);
    txn.abortSub(11);
    txn.add(change(3), TOP);
    txn.add(change(4), 12);
    txn.abortSub(12);
    expect(contents(txn)).toEqual({ uncertain: false, items: ['c:1', 'c:3'] });
  });
});
