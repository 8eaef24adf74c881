import { describe, expect, it } from 'vitest';
import { KoyoPgoutputPlugin } from './pg-logical-replication.js';

describe('KoyoPgoutputPlugin', () => {
  it('builds START_REPLICATION with quoted names and every option', () => {
    const plugin = new KoyoPgoutputPlugin({
      publicationNames: ['app', 'we"ird\'s'],
      protoVersion: 4,
      binary: true,
      messages: true,
      streaming: 'parallel',
      twoPhase: true,
      origin: 'none',
    });
    expect(plugin.name).toBe('pgoutput');
    expect(plugin.startCommand('my"slot', '0/16B3748')).toBe(
      `START_REPLICATION SLOT "my""slot" LOGICAL 0/16B3748 (proto_version '4', publication_names '"app","we""ird''s"', binary 'true', messages 'true', streaming 'parallel', two_phase 'on', origin 'none')`,
    );
    expect(
      new KoyoPgoutputPlugin({
        publicationNames: ['p'],
        protoVersion: 2,
        streaming: true,
      }).startCommand('s', '0/0'),
    ).toBe(
      `START_REPLICATION SLOT "s" LOGICAL 0/0 (proto_version '2', publication_names '"p"', streaming 'on')`,
    );
  });

  it('rejects options the protocol version cannot carry', () => {
    expect(() => new KoyoPgoutputPlugin({ publicationNames: [] })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTION' }),
    );
    expect(() => new KoyoPgoutputPlugin({ publicationNames: ['p'], streaming: true })).toThrow(
      /protoVersion 2/,
    );
    expect(
      () =>
        new KoyoPgoutputPlugin({ publicationNames: ['p'], protoVersion: 3, streaming: 'parallel' }),
    ).toThrow(/protoVersion 4/);
    expect(
      () => new KoyoPgoutputPlugin({ publicationNames: ['p'], protoVersion: 2, twoPhase: true }),
    ).toThrow(/protoVersion 3/);
    expect(() =>
      new KoyoPgoutputPlugin({ publicationNames: ['p'] }).startCommand('s', "0/0'; DROP"),
    ).toThrow(expect.objectContaining({ code: 'INVALID_LSN' }));
  });

  it('resets its decoder when replication starts', async () => {
    const plugin = new KoyoPgoutputPlugin({ publicationNames: ['p'] });
    const sent: string[] = [];
    plugin.decoder.decode(Buffer.from('R\0\0\0\x01public\0t\0d\0\0'));
    expect(plugin.decoder.getRelation(1)).toBeDefined();
    await plugin.start({ query: async (sql) => sent.push(sql) }, 's', '0/0');
    expect(sent).toHaveLength(1);
    expect(plugin.decoder.getRelation(1)).toBeUndefined();
  });
});
