// Model uploads that never hold the model: in parts (resumable: create, send parts in any order and as often as
// needed, complete or abort) and single bodies streamed, both staged in R2 through a multipart upload and registered
// from there (./models.ts registerStagedModel).
import { DomainError, notFound } from "../domain-error";
import { checkModelPrefix } from "../onnx/skeleton";
import { drain, hexOf, REFUSED_BODY_DRAIN_BYTES } from "../store/body";
import type { UploadRecord } from "../store/records";
import type { TenantStore } from "../store/tenant";
import { registerStagedModel, type ModelView } from "./models";
import { requireRoom } from "./quotas";

/** R2's bounds on a multipart upload: parts of 5 MiB at least (but the last), at most 10,000 parts. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PARTS = 10_000;
/** A part is one request: at most the smallest plan's body limit (Cloudflare Free and Pro, 100 MB). */
export const MAX_PART_BYTES = 100 * 1000 * 1000;
/** The largest model in parts: protobuf's 2 GiB bound on one message (ONNX saves larger models with external data). */
export const MAX_UPLOAD_TOTAL_BYTES = 2 ** 31 - 1;
/** An upload not completed within a week expires (R2 aborts an incomplete multipart upload after seven days). */
export const UPLOAD_TTL_SECONDS = 7 * 24 * 3600;
/** Uploads in parts a tenant may have open at once (each holds an R2 multipart upload until it ends). */
export const MAX_OPEN_UPLOADS = 8;
/** Streamed single bodies go to R2 in parts of this size: the most such an upload holds at once. */
export const STREAM_PART_BYTES = 8 * 1024 * 1024;
/** The first read of a streamed upload, checked to begin a model before the part buffer is allocated. */
const PROBE_BYTES = 64 * 1024;

export interface UploadPlan {
  totalBytes: number;
  partBytes: number;
  name?: string;
}

/** An upload as the API shows it: its plan, its parts' sizes, and when it expires. */
export type UploadView = Omit<UploadRecord, "multipartId"> & { lastPartBytes: number };

const invalid = (message: string) => new DomainError("invalid_request", message);

export function viewOf(record: UploadRecord): UploadView {
  const { multipartId: _multipartId, ...view } = record;
  return { ...view, lastPartBytes: partSize(record, record.parts) };
}

/** The bytes part `n` (1-based) must hold. */
export function partSize(plan: Pick<UploadRecord, "totalBytes" | "partBytes" | "parts">, n: number): number {
  return n < plan.parts ? plan.partBytes : plan.totalBytes - plan.partBytes * (plan.parts - 1);
}

function newUploadId(): string {
  return hexOf(crypto.getRandomValues(new Uint8Array(12)).buffer);
}

/** Plans the parts (every one `partBytes` but the last), checks the model would fit the tenant's room, and opens it. */
export async function createUpload(store: TenantStore, plan: UploadPlan, now = Date.now()): Promise<UploadView> {
  const { totalBytes, partBytes } = plan;
  if (totalBytes > MAX_UPLOAD_TOTAL_BYTES) throw new DomainError("payload_too_large", `totalBytes ${totalBytes} is over ${MAX_UPLOAD_TOTAL_BYTES} (protobuf's 2 GiB bound on a model)`);
  const parts = Math.max(1, Math.ceil(totalBytes / partBytes));
  if (parts > 1 && partBytes < MIN_PART_BYTES) throw invalid(`partBytes must be at least ${MIN_PART_BYTES} (5 MiB, R2's smallest part) when there is more than one part`);
  if (parts > MAX_PARTS) throw invalid(`${parts} parts of ${partBytes} bytes: at most ${MAX_PARTS}; send larger parts`);
  // Open uploads' planned bytes count as stored: parts cannot pile up past the tenant's storage.
  await requireRoom(store, { models: 1, bytes: totalBytes }, "delete a model or a dataset first, or abort an upload");
  if ((await store.usage()).openUploads >= MAX_OPEN_UPLOADS) {
    throw new DomainError("quota_exceeded", `at most ${MAX_OPEN_UPLOADS} uploads may be open at once (MAX_OPEN_UPLOADS): complete or abort one`);
  }
  const id = newUploadId();
  const multipart = await store.createStagedUpload(id);
  const expiresAt = now + UPLOAD_TTL_SECONDS * 1000;
  const record: UploadRecord = {
    id,
    multipartId: multipart.uploadId,
    ...(plan.name !== undefined ? { name: plan.name } : {}),
    totalBytes,
    partBytes: Math.min(partBytes, totalBytes),
    parts,
    createdAt: new Date(now).toISOString(),
    expiresAt: new Date(expiresAt).toISOString(),
  };
  await store.putUpload(record, expiresAt);
  return viewOf(record);
}

export async function requireUpload(store: TenantStore, uploadId: string): Promise<UploadRecord> {
  const record = await store.getUpload(uploadId);
  if (!record) throw notFound("upload", uploadId);
  return record;
}

/**
 * Streams one part to R2 (never held): its size is checked against the plan before a byte is read. Sending a part
 * again replaces it; the answer's etag is what completing names it by.
 */
export async function putPart(
  store: TenantStore,
  uploadId: string,
  partNumber: number,
  body: ReadableStream<Uint8Array> | null,
  declaredLength: number | undefined,
): Promise<{ partNumber: number; etag: string; bytes: number }> {
  const record = await requireUpload(store, uploadId);
  if (partNumber > record.parts) throw invalid(`part ${partNumber} is past the upload's last part (${record.parts})`);
  const expected = partSize(record, partNumber);
  if (declaredLength !== undefined && declaredLength !== expected) {
    throw invalid(`part ${partNumber} must hold ${expected} bytes, its Content-Length says ${declaredLength}`);
  }
  if (!body) throw invalid(`part ${partNumber} has no body`);
  // A body without a Content-Length (chunked, HTTP/2) is held to the planned size as it streams: R2 takes a stream
  // of known length, and one that ends early or runs long fails the part.
  const sized = new FixedLengthStream(expected);
  const piped = body.pipeTo(sized.writable).catch((err: Error) => err);
  let part: R2UploadedPart;
  try {
    part = await store.resumeStagedUpload(record.id, record.multipartId).uploadPart(partNumber, sized.readable);
  } catch (err) {
    const cause = await piped;
    throw invalid(`part ${partNumber} was not stored: it must hold exactly ${expected} bytes (${((cause ?? err) as Error).message}); send it again`);
  }
  const failed = await piped;
  if (failed) throw invalid(`part ${partNumber} was not stored: ${failed.message}; send it again`);
  return { partNumber, etag: part.etag, bytes: expected };
}

/** Completes the upload from the parts the client names (every part, by the etag each answer gave), then registers it. */
export async function completeUpload(
  store: TenantStore,
  uploadId: string,
  parts: { partNumber: number; etag: string }[],
): Promise<{ created: boolean; model: ModelView }> {
  const record = await requireUpload(store, uploadId);
  const byNumber = new Map(parts.map((p) => [p.partNumber, p]));
  if (byNumber.size !== parts.length) throw invalid("parts name a part number twice");
  const missing: number[] = [];
  for (let n = 1; n <= record.parts; n++) if (!byNumber.has(n)) missing.push(n);
  if (missing.length > 0) throw invalid(`parts ${missing.slice(0, 20).join(", ")}${missing.length > 20 ? ", ..." : ""} are not named; send them, then complete`);
  if (byNumber.size > record.parts) throw invalid(`the upload has ${record.parts} parts, ${byNumber.size} were named`);
  const ordered = [...byNumber.values()].sort((a, b) => a.partNumber - b.partNumber);
  let size: number;
  try {
    size = (await store.resumeStagedUpload(record.id, record.multipartId).complete(ordered)).size;
  } catch (err) {
    throw invalid(`the parts could not be joined (${(err as Error).message}): a part is missing or its etag is not the last answer's`);
  }
  await store.deleteUpload(record.id);
  if (size !== record.totalBytes) {
    await store.deleteStaged(record.id);
    throw invalid(`the parts hold ${size} bytes, the upload was planned for ${record.totalBytes}`);
  }
  return registerStagedModel(store, record.id, record.name);
}

/** Drops the upload: its parts, any joined bytes, its record. */
export async function abortUpload(store: TenantStore, uploadId: string): Promise<void> {
  const record = await requireUpload(store, uploadId);
  await store.deleteUpload(record.id);
  try {
    await store.resumeStagedUpload(record.id, record.multipartId).abort();
  } finally {
    await store.deleteStaged(record.id);
  }
}

/**
 * A single request's body, staged through an R2 multipart upload in STREAM_PART_BYTES parts, then registered: a
 * 90 MB model uploads in one request without being held. Over `limit` bytes (declared or sent) it is refused with 413
 * and nothing is kept.
 */
export async function registerStreamedModel(
  store: TenantStore,
  body: ReadableStream<Uint8Array>,
  declared: number | undefined,
  limit: number,
  name: string | undefined,
): Promise<{ created: boolean; model: ModelView }> {
  // Room for what the body declares is checked before a byte is staged (and again, for its real size, once it is).
  if (declared !== undefined) await requireRoom(store, { models: 1, bytes: declared }, "delete a model or a dataset first");
  const id = newUploadId();
  const parts: R2UploadedPart[] = [];
  // Read into our own buffer (BYOB): a default reader hands over a fresh chunk per read, so a 94 MB body left 94 MB of
  // chunks for the collector, on top of the copy into the part buffer.
  const reader = body.getReader({ mode: "byob" });
  // The bytes arrive in order: they are hashed as they pass, so registering need not read them back.
  const digest = new crypto.DigestStream("SHA-256");
  const hashing = digest.getWriter();
  // The part buffer is allocated once the first bytes look like a model: junk is refused with only the probe read.
  let buffer: Uint8Array | undefined;
  let used = 0;
  let total = 0;
  // Opened with the first part, once its bytes are known to begin a model: a body that is not ONNX stages nothing.
  let multipart: R2MultipartUpload | undefined;
  const sendPart = async (bytes: Uint8Array) => {
    if (!multipart) {
      checkModelPrefix(bytes);
      multipart = await store.createStagedUpload(id);
    }
    parts.push(await multipart.uploadPart(parts.length + 1, bytes));
  };
  try {
    for (;;) {
      // A BYOB read transfers the buffer it fills: the answer is a view on the same memory, which becomes `buffer`.
      const { done, value } = await reader.read(buffer ? buffer.subarray(used) : new Uint8Array(PROBE_BYTES));
      if (value && buffer) buffer = new Uint8Array(value.buffer, 0, STREAM_PART_BYTES);
      if (done || !value) break;
      total += value.byteLength;
      if (total > limit) throw new DomainError("payload_too_large", `body exceeds the limit of ${limit} bytes`);
      await hashing.write(value);
      if (!buffer) {
        checkModelPrefix(value);
        buffer = new Uint8Array(STREAM_PART_BYTES);
        buffer.set(value);
      }
      used += value.byteLength;
      if (used === STREAM_PART_BYTES) {
        // R2 has the part once uploadPart resolves: the one buffer is refilled.
        await sendPart(buffer);
        used = 0;
      }
    }
    if (used > 0 || parts.length === 0) await sendPart(buffer?.subarray(0, used) ?? new Uint8Array());
    await multipart!.complete(parts);
    await hashing.close();
  } catch (err) {
    // The client, maybe still sending, gets the answer rather than a connection closed under it: a body refused for
    // its size is drained as the buffered path drains one (../store/body.ts), one refused for what it holds is read to
    // its end, which the limit bounds (as the buffered path would have read it).
    const tooLarge = err instanceof DomainError && err.code === "payload_too_large";
    reader.releaseLock();
    await drain(body.getReader(), tooLarge ? REFUSED_BODY_DRAIN_BYTES : limit - total).catch(() => undefined);
    await multipart?.abort().catch(() => undefined);
    throw err;
  }
  return registerStagedModel(store, id, name, hexOf(await digest.digest));
}
