import type { MessageMessage } from '@koyo/pgoutput';
import { formatLsn } from '@koyo/pgoutput';
import type { TxnFields } from './change.js';
import type { LogicalMessage } from './types.js';

/**
 * The {@link LogicalMessage} handed to message handlers for a pgoutput Message: inside a
 * transaction (`txn`) with its position there, or non-transactional (`txn` null, position 0).
 */
export function toMessage(
  message: MessageMessage,
  txn: TxnFields | null,
  position: number,
): LogicalMessage {
  const content = Buffer.from(
    message.content.buffer,
    message.content.byteOffset,
    message.content.byteLength,
  );
  return {
    kind: 'message',
    prefix: message.prefix,
    content,
    text: content.toString('utf8'),
    transactional: message.transactional,
    lsn: formatLsn(message.lsn),
    commitLsn: txn ? txn.commitLsn : null,
    position: txn ? position : 0,
    xid: txn ? txn.xid : null,
    commitTime: txn ? txn.commitTime : null,
  };
}
