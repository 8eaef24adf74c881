import {
  JetStreamApiError,
  StorageType,
  type JetStreamManager,
  type StreamInfo,
} from '@nats-io/jetstream';
import { millis, nanos } from '@nats-io/nats-core';
import { KoyoNatsError } from './errors.js';

/** What the relay needs of its stream. */
export interface StreamRequirements {
  stream: string;
  subjectPrefix: string;
  duplicateWindowMs: number;
}

async function streamInfo(jsm: JetStreamManager, stream: string): Promise<StreamInfo | null> {
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
  const config = existing.config;
  if (!(config.subjects ?? []).includes(subject)) {
    throw new KoyoNatsError(
      'STREAM_MISMATCH',
      `The stream ${wanted.stream} has subjects ${JSON.stringify(config.subjects ?? [])}, not '${subject}': add '${subject}' to its subjects, or choose another stream or subjectPrefix.`,
    );
  }
  if (config.storage !== StorageType.File) {
    throw new KoyoNatsError(
      'STREAM_MISMATCH',
      `The stream ${wanted.stream} uses ${config.storage} storage: changes must survive a NATS restart, so recreate it with file storage or choose another stream.`,
    );
  }
  const windowMs = millis(config.duplicate_window);
  if (windowMs < wanted.duplicateWindowMs) {
    throw new KoyoNatsError(
      'DUPLICATE_WINDOW_TOO_SHORT',
      `The stream ${wanted.stream} de-duplicates over ${windowMs} ms, less than duplicateWindowMs (${wanted.duplicateWindowMs} ms): raise its duplicate_window (nats stream edit ${wanted.stream} --dupe-window ${Math.ceil(wanted.duplicateWindowMs / 1000)}s) or lower duplicateWindowMs.`,
    );
  }
  return existing;
}
