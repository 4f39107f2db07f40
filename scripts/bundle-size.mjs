// Reports the deployable bundle's size (what `wrangler deploy` uploads) and fails over Workers' paid-plan limit.
// Usage: node scripts/bundle-size.mjs dist   (after `wrangler deploy --dry-run --outdir dist`)
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const PAID_PLAN_LIMIT = 10 * 1024 * 1024; // compressed bytes
const FREE_PLAN_LIMIT = 3 * 1024 * 1024;

const dir = process.argv[2] ?? "dist";
const files = readdirSync(dir).filter((f) => !f.endsWith(".map") && f !== "README.md");
const rows = files.map((f) => {
  const bytes = readFileSync(join(dir, f));
  return { file: f, bytes: bytes.byteLength, gzip: gzipSync(bytes, { level: 9 }).byteLength };
});
const total = rows.reduce((a, r) => ({ bytes: a.bytes + r.bytes, gzip: a.gzip + r.gzip }), { bytes: 0, gzip: 0 });
for (const r of rows) console.log(`${r.file.padEnd(72)} ${(r.bytes / 1024).toFixed(0).padStart(8)} KiB  gzip ${(r.gzip / 1024).toFixed(0).padStart(6)} KiB`);
const result = { ...total, fitsFreePlan: total.gzip <= FREE_PLAN_LIMIT, fitsPaidPlan: total.gzip <= PAID_PLAN_LIMIT };
console.log(JSON.stringify({ bundle: result }));
if (!result.fitsPaidPlan) {
  console.error(`bundle is ${total.gzip} bytes gzipped, over the Workers paid-plan limit of ${PAID_PLAN_LIMIT}`);
  process.exit(1);
}
