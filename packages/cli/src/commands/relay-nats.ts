import type { CommandSpec } from '../args.js';
import * as flags from '../flags.js';

/** The flags and help of `koyo relay nats`, which publishes every change of the slot into NATS JetStream (@koyo/nats). It runs src/relay/relay-nats-command.ts, imported only then (see `main`). */
export const relayNatsSpec: CommandSpec = {
  name: 'relay nats',
  summary: 'Publish every change into NATS JetStream for a worker fleet',
  description:
    "Reads the slot of koyo.config.ts once and publishes every committed change into a NATS JetStream stream, exactly once (@koyo/nats): subject <prefix>.<schema>.<table>[.<partition>], the change as JSON. Worker processes (createNatsWorker from @koyo/nats, koyo init --relay nats writes an example) run the handlers, each key's changes in order. Settings come from relay.nats in the config; the flags override them. A transaction is acknowledged to PostgreSQL only after JetStream stored all of it; while NATS is unreachable, the slot waits. SIGINT or SIGTERM stops gracefully with a summary and exit 0. Needs @koyo/nats installed next to @koyo/cli.",
  positionals: [],
  options: {
    ...flags.slotFlags,
    servers: {
      type: 'string',
      multiple: true,
      value: 'URL',
      description:
        'NATS server(s); repeat or separate with commas. Default: relay.nats.servers in the config, else nats://127.0.0.1:4222.',
    },
    stream: {
      type: 'string',
      value: 'NAME',
      description: 'JetStream stream, created when missing. Default: relay.nats.stream, else KOYO.',
    },
    partitions: {
      type: 'string',
      value: 'N',
      description:
        'Partitions per table (workers need the same number). Default: relay.nats.partitions, else 1.',
    },
    'stats-interval': flags.statsInterval,
    help: flags.help,
  },
  examples: [
    'koyo relay nats',
    'koyo relay nats --servers nats://10.0.0.5:4222 --partitions 8',
    'koyo relay nats --stream ORDERS --stats-interval 10',
  ],
};
