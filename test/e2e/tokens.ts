// The e2e tier's tokens: one tenant per test file, so files never see each other's models.
export const E2E_TOKENS = { cli: "e2e-cli-token", jobs: "e2e-jobs-token", browser: "e2e-browser-token", downloads: "e2e-downloads-token", queue: "e2e-queue-token", uploads: "e2e-uploads-token", slimtrain: "e2e-slimtrain-token", turns: "e2e-turns-token" } as const;
