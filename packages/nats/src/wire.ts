import { headers, type MsgHdrs, type NatsConnection } from '@nats-io/nats-core';
import { KoyoNatsError } from './errors.js';

/** One message for the stream: subject, JSON body, the header lines (without the NATS/1.0 line). */
export interface WireMessage {
  subject: string;
  /** The body, JSON text. */
  data: string;
  /** `Name: value\r\n` lines, each ending with CRLF. */
  headerLines: string;
}

/**
 * Messages encoded as the `HPUB` frames NATS reads, in one buffer (outside the JS heap, so chunks
 * waiting for their PubAck cost the garbage collector nothing), the last one with a reply subject.
 */
export interface EncodedChunk {
  frames: Buffer;
  /** Per message: where its headers start, where its body starts, where it ends (before CRLF). */
  offsets: Int32Array;
  subjects: string[];
}

/** The parts of nats-core's protocol handler the fast path uses (typed public on its connection class). */
interface Protocol {
  connected: boolean;
  transport: unknown;
  sendCommand(cmd: Uint8Array): void;
}

/**
 * Writes encoded chunks to a NATS connection, one write each (what `NatsConnection.publish` with
 * headers sends, without four encodings and copies per message).
 */
export interface FrameWriter {
  /** Sends the chunk now and returns true; false (nothing sent) while the connection is down. */
  send(chunk: EncodedChunk, reply: string): boolean;
  /** The current socket (changes on every reconnect): messages sent on one arrive in order, or a suffix is lost. */
  generation(): unknown;
  /** The server's max_payload. */
  maxPayload(): number;
}

const HEAD = 'NATS/1.0\r\n';

/**
 * Encodes messages as frames (byte lengths counted in UTF-8), the last one with `reply` as its
 * reply subject (where JetStream sends its PubAck). Throws `MESSAGE_TOO_LARGE` for a message above
 * the server's max_payload.
 */
export function encodeChunk(
  messages: readonly WireMessage[],
  reply: string,
  maxPayload: number,
): EncodedChunk {
  const n = messages.length;
  const prefixes: string[] = new Array(n);
  const sizes = new Int32Array(n * 3); // prefix bytes, header bytes, body bytes
  const subjects: string[] = new Array(n);
  let size = 0;
  for (let i = 0; i < n; i++) {
    const message = messages[i]!;
    const head = `${HEAD}${message.headerLines}\r\n`;
    const headBytes = Buffer.byteLength(head);
    const bodyBytes = Buffer.byteLength(message.data);
    const total = headBytes + bodyBytes;
    if (total > maxPayload)
      throw new KoyoNatsError(
        'MESSAGE_TOO_LARGE',
        `A change of ${total} bytes for ${message.subject} exceeds the NATS server's max_payload (${maxPayload} bytes): raise max_payload in the server's configuration (up to 64 MB) or keep such rows out of the publication.`,
      );
    const to = i === n - 1 ? ` ${reply}` : '';
    const prefix = `HPUB ${message.subject}${to} ${headBytes} ${total}\r\n${head}`;
    prefixes[i] = prefix;
    subjects[i] = message.subject;
    sizes[i * 3] = Buffer.byteLength(prefix);
    sizes[i * 3 + 1] = headBytes;
    sizes[i * 3 + 2] = bodyBytes;
    size += sizes[i * 3]! + bodyBytes + 2;
  }
  const frames = Buffer.allocUnsafe(size);
  const offsets = new Int32Array(n * 3);
  let offset = 0;
  for (let i = 0; i < n; i++) {
    offset += frames.write(prefixes[i]!, offset, sizes[i * 3]!, 'utf8');
    offsets[i * 3] = offset - sizes[i * 3 + 1]!;
    offsets[i * 3 + 1] = offset;
    offset += frames.write(messages[i]!.data, offset, sizes[i * 3 + 2]!, 'utf8');
    offsets[i * 3 + 2] = offset;
    frames[offset++] = 13;
    frames[offset++] = 10;
  }
  return { frames, offsets, subjects };
}

/** Message `i` of an encoded chunk, for the client's own publish calls. */
export function messageOf(
  chunk: EncodedChunk,
  i: number,
): { subject: string; data: Uint8Array; headers: MsgHdrs } {
  const [headStart, bodyStart, end] = chunk.offsets.subarray(i * 3, i * 3 + 3);
  const h = headers();
  const text = chunk.frames.toString('utf8', headStart! + HEAD.length, bodyStart);
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(': ');
    if (colon > 0) h.append(line.slice(0, colon), line.slice(colon + 2));
  }
  return { subject: chunk.subjects[i]!, data: chunk.frames.subarray(bodyStart, end), headers: h };
}

/** How many messages an encoded chunk holds. */
export function sizeOf(chunk: EncodedChunk): number {
  return chunk.subjects.length;
}

/**
 * A {@link FrameWriter} on the connection's protocol handler; without one (another client
 * implementation), one `publish` per message, always "connected" on one generation.
 */
export function frameWriter(connection: NatsConnection): FrameWriter {
  const protocol = (connection as unknown as { protocol?: Partial<Protocol> }).protocol;
  const maxPayload = (): number => connection.info?.max_payload ?? 1024 * 1024;
  if (
    protocol &&
    typeof protocol.sendCommand === 'function' &&
    typeof protocol.connected === 'boolean'
  ) {
    const p = protocol as Protocol;
    return {
      send(chunk) {
        if (!p.connected) return false;
        p.sendCommand(chunk.frames);
        return true;
      },
      generation: () => p.transport,
      maxPayload,
    };
  }
  return {
    send(chunk, reply) {
      const n = sizeOf(chunk);
      for (let i = 0; i < n; i++) {
        const message = messageOf(chunk, i);
        connection.publish(message.subject, message.data, {
          headers: message.headers,
          ...(i === n - 1 ? { reply } : {}),
        });
      }
      return true;
    },
    generation: () => connection,
    maxPayload,
  };
}
