// The layers of the Worker (docs/architecture.md#layers), checked by `npm run deps` as a step of `npm test`.
// From the edge inwards: http → application → domain → foundations. A module imports from its own layer and
// the layers below it, never above; and no import cycle, at run time or in types only.
const LAYERS = {
  http: [
    "^worker/(index|app|auth|errors|rate-limit)\\.ts$",
    "^worker/routes/",
    "^worker/dashboard/",
    "^client/",
    "^cli/",
  ],
  application: ["^worker/catalog/", "^worker/jobs/", "^worker/tune/", "^worker/traffic/"],
  domain: [
    "^worker/compress/",
    "^worker/evaluate/",
    "^worker/experiments/",
    "^worker/datasets/",
    "^worker/serve/(?!wasm/)",
    "^worker/isolate\\.ts$",
  ],
  foundations: [
    "^worker/onnx/",
    "^worker/serve/wasm/",
    "^worker/store/",
    "^worker/(env|domain-error|limits|seeded-random)\\.ts$",
    "^formats/",
  ],
};

const ORDER = ["http", "application", "domain", "foundations"];

/** One rule per layer: nothing in it imports from a layer above it. */
const noUpward = ORDER.slice(1).map((layer, i) => ({
  name: `no-upward-from-${layer}`,
  comment: `${layer} imports only from its own layer and those below it (${ORDER.slice(i + 2).join(", ") || "none"})`,
  severity: "error",
  from: { path: LAYERS[layer] },
  to: { path: ORDER.slice(0, i + 1).flatMap((above) => LAYERS[above]) },
}));

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      comment: "no import cycle, counting type-only imports",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    ...noUpward,
    {
      name: "store-keys-private",
      comment: "the key scheme belongs to the tenant store: nothing outside worker/store/ builds storage keys",
      severity: "error",
      from: { pathNot: "^worker/store/" },
      to: { path: "^worker/store/keys\\.ts$" },
    },
    {
      name: "in-a-layer",
      comment: "every module of the Worker and its faces has a layer (add new folders to LAYERS)",
      severity: "error",
      from: { path: "^(worker|formats|client|cli)/", pathNot: Object.values(LAYERS).flat() },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "\\.d\\.ts$" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    moduleSystems: ["es6", "cjs"],
  },
};
