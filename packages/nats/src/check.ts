import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { millis, type NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { KoyoNatsError } from './errors.js';
import { checkStreamName, checkSubjectPrefix } from './names.js';
import { streamInfo, streamMismatch } from './stream.js';

/** One result of {@link checkNats}; the same shape as `@koyo/slot`'s `DiagnosticCheck`. */
export interface NatsCheck {
  /** `nats`, `jetstream` or `nats_stream`. */
  id: string;
  ok: boolean;
  /** `error`: the relay cannot run; `info`: for your information. */
  severity: 'error' | 'warning' | 'info';
  /** What was found, in a sentence. */
  message: string;
  /** What to do about it; `null` when there is nothing to do. */
  fix: string | null;
}

/** Options of {@link checkNats}: the relay's NATS settings. */
export interface NatsCheckOptions {
  /** NATS servers, as the relay gets them. */
  servers: string | string[];
  /** The relay's stream. Default `'KOYO'`. */
  stream?: string;
  /** The relay's subject prefix. Default `'koyo'`. */
  subjectPrefix?: string;
  /** The relay's `duplicateWindowMs`. Default 120 000. */
  duplicateWindowMs?: number;
  /** How long to wait for the connection. Default 5 000 ms. */
  timeoutMs?: number;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Checks what a relay needs of NATS, without changing anything: the servers answer, JetStream is
 * enabled, and the stream either does not exist yet (the relay creates it) or has the settings
 * the relay needs (subjects `<prefix>.>`, file storage, a long enough duplicate window: the same
 * check the relay makes before it starts). Each failed check says what to do. Bad stream or
 * prefix names throw `INVALID_NAME`, as the relay would.
 *
 * @example
 * const checks = await checkNats({ servers: 'nats://127.0.0.1:4222', stream: 'KOYO' });
 * for (const check of checks) console.log(check.ok ? '✓' : '✗', check.id, check.message, check.fix ?? '');
 */
export async function checkNats(options: NatsCheckOptions): Promise<NatsCheck[]> {
  const stream = checkStreamName(options.stream ?? 'KOYO');
  const subjectPrefix = checkSubjectPrefix(options.subjectPrefix ?? 'koyo');
  const duplicateWindowMs = options.duplicateWindowMs ?? 120_000;
  if (!Number.isSafeInteger(duplicateWindowMs) || duplicateWindowMs < 1000) {
    throw new KoyoNatsError(
      'INVALID_OPTION',
      `duplicateWindowMs must be an integer of at least 1000 ms, got ${String(duplicateWindowMs)}.`,
    );
  }
  const servers = Array.isArray(options.servers) ? options.servers : [options.servers];
  const where = servers.join(', ');
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers,
      name: 'koyo-doctor',
      timeout: options.timeoutMs ?? 5_000,
      reconnect: false,
    });
  } catch (error) {
    return [
      {
        id: 'nats',
        ok: false,
        severity: 'error',
        message: `cannot connect to NATS at ${where}: ${describe(error)}`,
        fix: `start nats-server with JetStream (nats-server -js) there, or point relay.nats.servers in koyo.config.ts at a running one`,
      },
    ];
  }
  const checks: NatsCheck[] = [
    {
      id: 'nats',
      ok: true,
      severity: 'info',
      message: `connected to NATS ${nc.info?.version ?? ''} at ${where}`.replace('  ', ' '),
      fix: null,
    },
  ];
  try {
    let jsm: JetStreamManager;
    try {
      jsm = await jetstreamManager(nc, { checkAPI: true, timeout: options.timeoutMs ?? 5_000 });
      await jsm.getAccountInfo();
    } catch (error) {
      checks.push({
        id: 'jetstream',
        ok: false,
        severity: 'error',
        message: `JetStream is not available on this NATS account: ${describe(error)}`,
        fix: 'run nats-server with JetStream enabled (nats-server -js, or jetstream {} in its config file)',
      });
      return checks;
    }
    checks.push({
      id: 'jetstream',
      ok: true,
      severity: 'info',
      message: 'JetStream is enabled',
      fix: null,
    });
    checks.push(await streamCheck(jsm, { stream, subjectPrefix, duplicateWindowMs }));
    return checks;
  } finally {
    await nc.close().catch(() => undefined);
  }
}

async function streamCheck(
  jsm: JetStreamManager,
  wanted: { stream: string; subjectPrefix: string; duplicateWindowMs: number },
): Promise<NatsCheck> {
  const subject = `${wanted.subjectPrefix}.>`;
  const info = await streamInfo(jsm, wanted.stream);
  if (info) {
    const mismatch = streamMismatch(info.config, wanted);
    if (mismatch) {
      return {
        id: 'nats_stream',
        ok: false,
        severity: 'error',
        message: mismatch.problem,
        fix: mismatch.fix,
      };
    }
    return {
      id: 'nats_stream',
      ok: true,
      severity: 'info',
      message: `stream ${wanted.stream} captures '${subject}' on file storage, de-duplicating over ${millis(info.config.duplicate_window ?? 0)} ms; it holds ${info.state.messages} message(s)`,
      fix: null,
    };
  }
  // A missing stream is created by the relay, unless another stream already takes its subjects.
  const others: string[] = [];
  for await (const name of jsm.streams.names(subject)) others.push(name);
  if (others.length > 0) {
    return {
      id: 'nats_stream',
      ok: false,
      severity: 'error',
      message: `stream ${wanted.stream} does not exist, and the relay cannot create it: ${others.join(', ')} already capture(s) '${subject}'`,
      fix: `set relay.nats.stream to ${others[0]} (if it suits the relay), or choose another subjectPrefix`,
    };
  }
  return {
    id: 'nats_stream',
    ok: true,
    severity: 'info',
    message: `stream ${wanted.stream} does not exist yet: the relay creates it on start ('${subject}', file storage, ${wanted.duplicateWindowMs} ms duplicate window)`,
    fix: null,
  };
}
