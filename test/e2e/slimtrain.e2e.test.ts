// The offline script's exports as trained variants of the user's model, through `wrangler dev`: each example of
// scripts/train (ResNet-18 on Fashion-MNIST, an LSTM and a transformer classifier, at the sizes pytest trains them) is trained in float by the
// slimtrain CLI and its FP32 export uploaded as the model; from that checkpoint the CLI then runs 4- and 8-bit QAT,
// pruning to 80% followed by int8 QAT, and distillation into the example's smaller student, each uploading its export
// with --upload as a trained variant. The API's evaluation of each variant on the validation split the script evaluated
// gives the accuracy the script reported (within 0.1 points), and FP32's the float run's.
import { execFile } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { SlimserveClient, type Variant } from "@client/slimserve.js";
import { PYTHON } from "@test/support/python";
import { E2E_TOKENS } from "./tokens";

const baseUrl = inject("baseUrl");
const token = E2E_TOKENS.slimtrain;
const TRAIN_DIR = join(process.cwd(), "scripts", "train");

interface RunResults {
  final: { accuracy: number; n: number };
  export: { onnx: string; checkpoint: string };
  upload?: { id: string };
}

/** Runs `python3 -m slimtrain ARGS --out DIR` from scripts/train and gives its results.json. */
function slimtrain(out: string, args: string[]): Promise<RunResults> {
  return new Promise((resolve, reject) => {
    execFile(PYTHON, ["-m", "slimtrain", ...args, "--device", "cpu", "--threads", "1", "--no-progress", "--out", out], { cwd: TRAIN_DIR, env: { ...process.env, SLIMSERVE_TOKEN: "" } }, (err, _stdout, stderr) => {
      if (err) return reject(new Error(`slimtrain ${args.join(" ")}: ${stderr.slice(-2000)}`));
      readFile(join(out, "results.json"), "utf8").then((text) => resolve(JSON.parse(text) as RunResults), reject);
    });
  });
}

/** The example's validation split (the loaders' second), as the .npz the API evaluates on: `input` and `labels`. */
function validationNpz(module: string, dataArgs: string, path: string): Promise<void> {
  const code = [
    "import json, sys, numpy as np, torch",
    `from examples import ${module} as m`,
    "_, val = m.loaders(**json.loads(sys.argv[1]))",
    "x = torch.cat([b[0] for b in val]).numpy(); y = torch.cat([b[1] for b in val]).numpy().astype(np.int64)",
    "np.savez(sys.argv[2], input=x, labels=y)",
  ].join("\n");
  return new Promise((resolve, reject) => {
    execFile(PYTHON, ["-c", code, dataArgs, path], { cwd: TRAIN_DIR }, (err, _stdout, stderr) => (err ? reject(new Error(stderr.slice(-2000))) : resolve()));
  });
}

const EXAMPLES = [
  // torchvision's ResNet-18 with a 1-channel stem on Fashion-MNIST (45 MB FP32), its exports the size and graph of the
  // real one. Trained enough to learn something: an untrained network's logits are near ties, and any two correct
  // engines (PyTorch's float sums, the integer kernels' exact ones) split a near tie differently.
  { module: "resnet18_fashion", data: { train_size: 256, val_size: 64, batch_size: 32 }, epochs: 3, lr: "1e-3" },
  { module: "lstm_sequence", data: { train_size: 512, val_size: 256, batch_size: 32 }, epochs: 6, lr: "1e-2" },
  { module: "text_transformer", data: { train_size: 512, val_size: 256 }, epochs: 3, lr: "5e-3" },
];

let client: SlimserveClient;
beforeAll(() => {
  client = new SlimserveClient({ baseUrl, token });
});

describe("slimtrain's exports served as trained variants", () => {
  for (const ex of EXAMPLES) {
    it(`${ex.module}: the API evaluates the FP32 model and its QAT, pruned and distilled variants as the script did`, { timeout: 300_000 }, async () => {
      const dir = await mkdtemp(join(tmpdir(), `slimtrain-${ex.module}-`));
      const dataArgs = JSON.stringify(ex.data);
      const user = ["--model", `examples.${ex.module}:model`, "--data", `examples.${ex.module}:loaders`, "--data-args", dataArgs, "--lr", ex.lr];
      const fp32 = await slimtrain(join(dir, "fp32"), ["train", ...user, "--epochs", String(ex.epochs)]);
      const model = await client.uploadModel(new Uint8Array(await readFile(fp32.export.onnx)), { name: ex.module });
      await validationNpz(ex.module, dataArgs, join(dir, "val.npz"));
      const dataset = await client.uploadDataset(new Uint8Array(await readFile(join(dir, "val.npz"))), { name: `${ex.module}-val` });
      expect(dataset.samples).toBe(fp32.final.n);

      // Each trained export of the examples' tests: 4- and 8-bit QAT from the float checkpoint, AGP to 80% then int8
      // QAT, and a smaller student distilled from it.
      const runs: [string, string[]][] = [
        ["qat4", ["qat", ...user, "--bits", "4", "--act-bits", "8", "--epochs", "2", "--init", fp32.export.checkpoint]],
        ["qat8", ["qat", ...user, "--bits", "8", "--act-bits", "8", "--epochs", "2", "--init", fp32.export.checkpoint]],
        ["prune80-int8", ["prune", ...user, "--final-sparsity", "0.8", "--prune-steps", "3", "--epochs", "2", "--init", fp32.export.checkpoint, "--qat-bits", "8", "--act-bits", "8", "--qat-epochs", "1"]],
        ["distilled", ["distill", ...user, "--epochs", String(ex.epochs), "--model", `examples.${ex.module}:student`, "--teacher", `examples.${ex.module}:model`, "--teacher-init", fp32.export.checkpoint, "--temperature", "4", "--alpha", "0.9"]],
      ];
      for (const [label, args] of runs) {
        const trained = await slimtrain(join(dir, label), [...args, "--upload", baseUrl, "--parent", model.id, "--token", token]);
        expect(trained.upload?.id, `${label}: the CLI uploaded its export`).toBeTruthy();
        const answer = await client.evaluateVariant(model.id, trained.upload!.id, dataset.id);
        if ("job" in answer) {
          const job = await client.waitForJob(answer.job.id);
          expect(job.status, `${label}: ${JSON.stringify(job)}`).toBe("succeeded");
        }
        const variant: Variant = await client.getVariant(model.id, trained.upload!.id);
        const accuracy = variant.eval?.accuracy;
        expect(accuracy, `${label}: ${JSON.stringify(variant.eval)}`).toBeTruthy();
        // Within 0.1 points: one prediction is 0.39 points of 256 samples (1.6 of 64), so the API and the script agree
        // on every one.
        expect(Math.abs(accuracy!.variant - trained.final.accuracy) * 100, `${label}: API ${accuracy!.variant}, script ${trained.final.accuracy}`).toBeLessThanOrEqual(0.1);
        expect(Math.abs(accuracy!.fp32 - fp32.final.accuracy) * 100, `FP32: API ${accuracy!.fp32}, script ${fp32.final.accuracy}`).toBeLessThanOrEqual(0.1);
      }
    });
  }
});
