import {
  JetStreamApiError,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { millis, nanos } from '@nats-io/nats-core';
import { KoyoNatsError } from './errors.js';

/** What the relay needs of its stream: its name, the subject prefix it publishes under, the least duplicate window. */
export interface StreamRequirements {
  stream: string;
  subjectPrefix: string;
  duplicateWindowMs: number;
}

/** Why an existing stream cannot take the relay's messages, and what to change. */
export interface StreamMismatch {
  code: 'STREAM_MISMATCH' | 'DUPLICATE_WINDOW_TOO_SHORT';
  /** What is wrong, e.g. `The stream KOYO uses memory storage`. */
  problem: string;
  /** What to change (a `nats stream` command or an option). */
  fix: string;
}

/**
 * Checks an existing stream's settings against what the relay needs: its subjects include
 * `<prefix>.>`, it uses file storage, and it de-duplicates over at least `duplicateWindowMs`.
 * Returns the first mismatch, or `null` when the stream fits. The relay refuses to start on a
 * mismatch; `koyo doctor` reports it.
 *
 * @example
 * const info = await jsm.streams.info('KOYO');
 * const mismatch = streamMismatch(info.config, { stream: 'KOYO', subjectPrefix: 'koyo', duplicateWindowMs: 120_000 });
 * if (mismatch) console.error(`${mismatch.problem}: ${mismatch.fix}`);
 */
export function streamMismatch(
  config: Pick<StreamConfig, 'subjects' | 'storage' | 'duplicate_window'>,
  wanted: StreamRequirements,
): StreamMismatch | null {
  const subject = `${wanted.subjectPrefix}.>`;
  if (!(config.subjects ?? []).includes(subject)) {
    return {
      code: 'STREAM_MISMATCH',
      problem: `The stream ${wanted.stream} has subjects ${JSON.stringify(config.subjects ?? [])}, not '${subject}'`,
      fix: `add '${subject}' to its subjects (nats stream edit ${wanted.stream} --subjects '${[...(config.subjects ?? []), subject].join(',')}'), or choose another stream or subjectPrefix.`,
    };
  }
  if (config.storage !== StorageType.File) {
    return {
      code: 'STREAM_MISMATCH',
      problem: `The stream ${wanted.stream} uses ${config.storage} storage, and changes must survive a NATS restart`,
      fix: `recreate it with file storage (nats stream rm ${wanted.stream}, then let the relay create it), or choose another stream.`,
    };
  }
  const windowMs = millis(config.duplicate_window ?? 0);
  if (windowMs < wanted.duplicateWindowMs) {
    return {
      code: 'DUPLICATE_WINDOW_TOO_SHORT',
      problem: `The stream ${wanted.stream} de-duplicates over ${windowMs} ms, less than duplicateWindowMs (${wanted.duplicateWindowMs} ms)`,
      fix: `raise its duplicate window (nats stream edit ${wanted.stream} --dupe-window ${Math.ceil(wanted.duplicateWindowMs / 1000)}s) or lower duplicateWindowMs.`,
    };
  }
  return null;
}

/** The stream's info, or `null` when it does not exist. */
export async function streamInfo(
  jsm: JetStreamManager,
  stream: string,
): Promise<StreamInfo | null> {
  try {
    return await jsm.streams.info(stream);
  } catch (error) {
    // 10059: stream not found.
    if (error instanceof JetStreamApiError && error.code === 10059) return null;
    throw error;
  }
}

/**
 * Creates the stream when missing (subjects `<prefix>.>`, file storage, the duplicate window);
 * checks an existing one and refuses, before anything is published, a stream that does not
 * capture `<prefix>.>`, is not on file storage, or de-duplicates over a shorter window than asked.
 */
export async function ensureStream(
  jsm: JetStreamManager,
  wanted: StreamRequirements,
): Promise<StreamInfo> {
  const subject = `${wanted.subjectPrefix}.>`;
  const existing = await streamInfo(jsm, wanted.stream);
  if (!existing) {
    try {
      return await jsm.streams.add({
        name: wanted.stream,
        subjects: [subject],
        storage: StorageType.File,
        duplicate_window: nanos(wanted.duplicateWindowMs),
      });
    } catch (error) {
      // 10065: another stream already captures these subjects.
      if (!(error instanceof JetStreamApiError && error.code === 10065)) throw error;
      throw new KoyoNatsError(
        'STREAM_MISMATCH',
        `Cannot create the stream ${wanted.stream} for '${subject}': another stream already captures these subjects. Use that stream (stream option) or another subjectPrefix.`,
        { cause: error },
      );
    }
  }
  const mismatch = streamMismatch(existing.config, wanted);
  if (mismatch) throw new KoyoNatsError(mismatch.code, `${mismatch.problem}: ${mismatch.fix}`);
  return existing;
}
