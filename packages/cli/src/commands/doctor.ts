import type { CommandSpec } from '../args.js';
import * as flags from '../flags.js';

/** The flags and help of `koyo doctor`, which checks the set-up and prints a checklist with the fix of each problem. It runs src/doctor/doctor-command.ts, imported only then (see `main`). */
export const doctorSpec: CommandSpec = {
  name: 'doctor',
  summary: 'Check the database set-up and say how to fix each problem',
  description:
    "Runs every check of @koyo/slot's diagnose (connection, server version, wal_level, free slots and WAL senders, REPLICATION attribute, publication and replica identity, slot state and lag), and, when koyo.config.ts has relay.nats (or --nats-servers is given), what koyo relay nats needs of NATS (reachable, JetStream enabled, the stream's subjects, storage and duplicate window), and prints a checklist: ✓ or ✗, what was found, and the exact SQL that fixes it. Exits 1 when any check fails.",
  positionals: [],
  options: {
    ...flags.slotFlags,
    origins: {
      type: 'boolean',
      description:
        'Also check replication origins: privileges for loop-safe writes from handlers (dispatcher.db), the GRANTs when missing, and origins left without their slot.',
    },
    'nats-servers': {
      type: 'string',
      multiple: true,
      value: 'URL',
      description:
        'Also check NATS for koyo relay nats (reachable, JetStream, the stream). Default: relay.nats.servers when the config has relay.nats.',
    },
    'nats-stream': {
      type: 'string',
      value: 'NAME',
      description: 'The relay stream to check. Default: relay.nats.stream, else KOYO.',
    },
    json: flags.json,
    help: flags.help,
  },
  examples: [
    'koyo doctor',
    'koyo doctor --origins',
    'koyo doctor --nats-servers nats://127.0.0.1:4222',
    'koyo doctor --url postgres://app@db/shop --slot koyo_shop --publication koyo_shop',
    'koyo doctor --json | jq .checks',
  ],
};
