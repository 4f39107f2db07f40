// The bounds on what one model may declare and one inference may produce: the one home of each default
// (docs/limits.md lists them). Decided before anything is allocated, and answered 413 `payload_too_large`
// naming the bound (LimitError).
import { DomainError } from "../domain-error";

/**
 * Nodes in a model, counting every subgraph's (validation and planning are linear in them). Torch's export of a
 * 6-layer encoder has under 1,000. A decoded node costs about 600 bytes (15 MiB for a 25,000-node chain in Node), and a
 * fresh isolate grew by up to 64.5 MiB to store a 24,999-node chain (83 MiB at 49,999), so 20,000 keeps an upload
 * within the 64 MiB one request may cost with room to spare.
 */
export const MAX_GRAPH_NODES = 20_000;
/** How deep subgraphs (If/Loop/Scan bodies) may nest inside one another. */
export const MAX_SUBGRAPH_DEPTH = 16;
/**
 * Elements all tensors of a model may declare (dense initializers, sparse initializers at their dense size, Constant
 * values): what a 64 MiB upload holds at 4 bits. Also bounded by the bytes present (DECLARED_ELEMENTS_PER_BYTE).
 */
export const MAX_DECLARED_ELEMENTS = 2 ** 27;
/**
 * Declared elements per byte of tensor data the model holds (1-bit packing is 8 per byte); sparse tensors are the
 * only ones that declare more than they hold, so this bounds how far a pruned model may expand.
 */
export const DECLARED_ELEMENTS_PER_BYTE = 8;
/** Elements any model may declare whatever its bytes (small fully-pruned tensors hold no bytes at all). */
export const DECLARED_ELEMENTS_FLOOR = 1 << 20;
/**
 * Elements of one tensor a run may produce: every activation the kernel engine allocates, every output answered.
 * 48 MiB of float32: MobileNetV2's widest activation at batch 8 (9.6M) fits; one request at the bound stays within
 * the 64 MiB it may cost (docs/benchmarks.md#adversarial-requests).
 */
export const MAX_TENSOR_ELEMENTS = 12 * 1024 * 1024;
/**
 * Elements all outputs of one answer may hold together: about 10 MB of JSON. Measured in workerd, a 1M-element answer
 * grew the process by 55-73 MiB while serialized, over the 64 MiB one request may cost; 512K stays near half of it
 * (docs/benchmarks.md#adversarial-requests).
 */
export const MAX_OUTPUT_ELEMENTS = 512 * 1024;
/**
 * Bytes of activations and scratch one kernel-engine run may hold at once (its arena's peak; freed after the run): the
 * 64 MiB one request may cost. The full zoo's peaks at batch 8: MobileNetV2 52 MiB, ResNet-18 36, the transformer
 * encoder (sequence 128) 18, the LSTM 10; a larger batch is a 413 naming this bound.
 */
export const MAX_RUN_ARENA_BYTES = 64 * 1024 * 1024;
/**
 * The arena one run may use for a request whose inputs hold `inputBytes`: MAX_RUN_ARENA_BYTES less the inputs three
 * times (twice in the runtime that received the body, once as the Worker read it: see MAX_TENSOR_BODY_BYTES), since
 * they are held beside the arena within the 64 MiB one request may cost: the larger a request's inputs, the less its
 * run may hold.
 */
export function runArenaBudget(inputBytes: number): number {
  return Math.max(0, MAX_RUN_ARENA_BYTES - 3 * inputBytes);
}

/** A bound exceeded: 413, the message names the bound and what exceeded it. */
export class LimitError extends DomainError {
  override name = "LimitError";
  constructor(message: string) {
    super("payload_too_large", message);
  }
}
