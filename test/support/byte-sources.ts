// A ByteSource over bytes in memory that records what it is asked for: each read's length, and their sum. Reads are
// returned as copies, as an R2 ranged read gives them (a view would keep the whole buffer alive).
import { bytesSource, type ByteSource } from "@worker/onnx/skeleton";

export interface RecordingSource extends ByteSource {
  /** Each read's length, in order. */
  readonly reads: number[];
  readonly bytesRead: number;
}

export function recordingSource(bytes: Uint8Array): RecordingSource {
  const inner = bytesSource(bytes);
  const reads: number[] = [];
  return {
    size: inner.size,
    reads,
    get bytesRead() {
      return reads.reduce((a, b) => a + b, 0);
    },
    read: async (offset, length) => {
      reads.push(length);
      return new Uint8Array(await inner.read(offset, length));
    },
  };
}
