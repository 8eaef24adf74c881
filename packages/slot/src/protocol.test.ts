import { describe, expect, it } from 'vitest';
import {
  highestProtocolVersion,
  resolveProtocol,
  startReplicationCommand,
  type PgoutputOptions,
} from './protocol.js';

const base: PgoutputOptions = {
  protocolVersion: 'auto',
  publications: ['koyo'],
  binary: false,
  messages: false,
  origin: undefined,
  streaming: false,
  twoPhase: false,
};

describe('protocol', () => {
  it('auto picks the highest version the server supports', () => {
    expect(highestProtocolVersion(130000)).toBe(1);
    expect(highestProtocolVersion(140010)).toBe(2);
    expect(highestProtocolVersion(150004)).toBe(3);
    expect(highestProtocolVersion(160000)).toBe(4);
    expect(highestProtocolVersion(180001)).toBe(4);
    expect(resolveProtocol(base, 150004)).toBe(3);
    expect(resolveProtocol({ ...base, protocolVersion: 1 }, 180000)).toBe(1);
  });

  it('refuses what the server or version cannot do', () => {
    expect(() => resolveProtocol({ ...base, protocolVersion: 4 }, 150000)).toThrow(
      expect.objectContaining({ code: 'PROTOCOL_UNSUPPORTED' }),
    );
    expect(() => resolveProtocol({ ...base, streaming: 'parallel' }, 150000)).toThrow(
      expect.objectContaining({ code: 'PROTOCOL_UNSUPPORTED' }),
    );
    expect(() => resolveProtocol({ ...base, protocolVersion: 1, streaming: true }, 160000)).toThrow(
      expect.objectContaining({ code: 'PROTOCOL_UNSUPPORTED' }),
    );
    expect(() => resolveProtocol({ ...base, origin: 'none' }, 150000)).toThrow(
      expect.objectContaining({ code: 'PROTOCOL_UNSUPPORTED' }),
    );
    expect(resolveProtocol({ ...base, twoPhase: true, streaming: true }, 150000)).toBe(3);
  });

  it('builds START_REPLICATION with quoted publication names', () => {
    expect(
      startReplicationCommand('koyo', 0x16b374d848n, 4, {
        ...base,
        publications: ['a', 'B-c'],
        binary: true,
        messages: true,
        streaming: 'parallel',
        origin: 'none',
      }),
    ).toBe(
      `START_REPLICATION SLOT "koyo" LOGICAL 16/B374D848 (proto_version '4', publication_names '"a","B-c"', binary 'true', messages 'true', streaming 'parallel', origin 'none')`,
    );
  });
});
