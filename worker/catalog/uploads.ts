// Model uploads that never hold the model: in parts (resumable: create, send parts in any order and as often as
// needed, complete or abort) and single bodies streamed, both staged in R2 through a multipart upload and registered
// from there (./models.ts registerStagedModel). A model saved with external data names its files, each uploaded in
// parts first: the model is then written whole from the staged graph and files (never held) and registered as any.
import { DomainError, notFound } from "../domain-error";
import { decodeModel } from "../onnx/codec";
import { normalizeLocation, resolveExternalData } from "../onnx/external-data";
import { segmentModel, writeSegments, type SegmentedModel } from "../onnx/segments";
import { checkModelPrefix, readSkeleton, SKELETON_LOCATION, type ByteSource } from "../onnx/skeleton";
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
  /** A file of external data, not a model: the location the model's tensors name it by. */
  location?: string;
  /** A model's external-data files, by their uploads' ids. */
  externalData?: string[];
}

/** A model names at most this many external-data files (onnx writes one, or one per tensor when asked). */
export const MAX_EXTERNAL_FILES = 64;

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

/**
 * Plans the parts (every one `partBytes` but the last), checks the model (or file) would fit the tenant's room, and
 * opens it. Staged objects left past their expiry (files no model claimed) are dropped on the way.
 */
export async function createUpload(store: TenantStore, plan: UploadPlan, now = Date.now()): Promise<UploadView> {
  const { totalBytes, partBytes } = plan;
  if (totalBytes > MAX_UPLOAD_TOTAL_BYTES) throw new DomainError("payload_too_large", `totalBytes ${totalBytes} is over ${MAX_UPLOAD_TOTAL_BYTES} (protobuf's 2 GiB bound on a model)`);
  const parts = Math.max(1, Math.ceil(totalBytes / partBytes));
  if (parts > 1 && partBytes < MIN_PART_BYTES) throw invalid(`partBytes must be at least ${MIN_PART_BYTES} (5 MiB, R2's smallest part) when there is more than one part`);
  if (parts > MAX_PARTS) throw invalid(`${parts} parts of ${partBytes} bytes: at most ${MAX_PARTS}; send larger parts`);
  let location: string | undefined;
  if (plan.location !== undefined) {
    if (plan.externalData) throw invalid("a file of external data names no external data of its own: give location or externalData, not both");
    location = fileLocation(plan.location);
  }
  if (plan.externalData) await requireFiles(store, plan.externalData, false);
  // Open uploads' planned bytes count as stored: parts cannot pile up past the tenant's storage.
  await requireRoom(store, { models: location === undefined ? 1 : 0, bytes: totalBytes }, "delete a model or a dataset first, or abort an upload");
  await store.sweepStaged(now - UPLOAD_TTL_SECONDS * 1000);
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
    ...(location !== undefined ? { location } : {}),
    ...(plan.externalData ? { externalData: plan.externalData } : {}),
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
  if (record.completedAt) throw invalid(`upload '${uploadId}' is complete: its parts can no longer change`);
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

/**
 * Completes the upload from the parts the client names (every part, by the etag each answer gave), then registers
 * the model (with its external data, where it names files). A file of external data is kept, complete, for the model
 * that will name it (completing it again answers the same).
 */
export async function completeUpload(
  store: TenantStore,
  uploadId: string,
  parts: { partNumber: number; etag: string }[],
  now = Date.now(),
): Promise<{ created: boolean; model: ModelView } | { file: UploadView }> {
  const record = await requireUpload(store, uploadId);
  if (record.completedAt) return { file: viewOf(record) };
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
  if (size !== record.totalBytes) {
    await store.deleteUpload(record.id);
    await store.deleteStaged(record.id);
    throw invalid(`the parts hold ${size} bytes, the upload was planned for ${record.totalBytes}`);
  }
  if (record.location !== undefined) {
    const complete: UploadRecord = { ...record, completedAt: new Date(now).toISOString() };
    await store.putUpload(complete, Date.parse(record.expiresAt));
    return { file: viewOf(complete) };
  }
  await store.deleteUpload(record.id);
  return record.externalData ? registerWithExternalData(store, record.id, record.name, record.externalData) : registerStagedModel(store, record.id, record.name);
}

/** Drops the upload: its parts, any joined bytes, its record. */
export async function abortUpload(store: TenantStore, uploadId: string): Promise<void> {
  const record = await requireUpload(store, uploadId);
  await store.deleteUpload(record.id);
  try {
    // A complete file has no multipart upload left to abort.
    if (!record.completedAt) await store.resumeStagedUpload(record.id, record.multipartId).abort();
  } finally {
    await store.deleteStaged(record.id);
  }
}

/** A file's location, normalised; the skeleton's name for the model's own bytes is not one a file may take. */
function fileLocation(location: string): string {
  const normal = normalizeLocation(location);
  if (normal === null) throw invalid(`location ${JSON.stringify(location)} is not a path inside the model's directory (relative, without '..' or control characters)`);
  if (normal === SKELETON_LOCATION) throw invalid(`location '${SKELETON_LOCATION}' names the model's own file: save its external data under another name`);
  return normal;
}

interface ExternalFile {
  upload: UploadRecord;
  source: ByteSource;
}

/**
 * The files of external data a model names by upload id, by location: each an upload planned with a location (and,
 * with `complete`, whose parts are joined), no two at one location.
 */
async function requireFiles(store: TenantStore, ids: readonly string[], complete: true): Promise<Map<string, ExternalFile>>;
async function requireFiles(store: TenantStore, ids: readonly string[], complete: false): Promise<void>;
async function requireFiles(store: TenantStore, ids: readonly string[], complete: boolean): Promise<Map<string, ExternalFile> | void> {
  if (ids.length > MAX_EXTERNAL_FILES) throw invalid(`a model names at most ${MAX_EXTERNAL_FILES} files of external data, ${ids.length} were given`);
  const files = new Map<string, ExternalFile>();
  const seen = new Map<string, string>();
  for (const id of ids) {
    const upload = await store.getUpload(id);
    if (!upload) throw invalid(`external data upload '${id}' not found (expired, aborted, or claimed by a model already)`);
    if (upload.location === undefined) throw invalid(`upload '${id}' is a model, not a file of external data (plan a file with its location)`);
    const other = seen.get(upload.location);
    if (other !== undefined) throw invalid(`uploads '${other}' and '${id}' are both '${upload.location}'`);
    seen.set(upload.location, id);
    if (!complete) continue;
    if (!upload.completedAt) throw invalid(`external data upload '${id}' ('${upload.location}') is not complete: complete it first`);
    files.set(upload.location, { upload, source: await store.stagedSource(id) });
  }
  if (complete) return files;
}

/**
 * Writes the segments to an R2 multipart upload in STREAM_PART_BYTES parts (R2 takes equal parts but the last),
 * hashing as it goes; nothing is visible until the upload completes, and a failure aborts it. Returns the SHA-256 (hex).
 */
export async function writeStaged(upload: R2MultipartUpload, encoded: SegmentedModel, sources: (location: string) => ByteSource | undefined): Promise<string> {
  const digest = new crypto.DigestStream("SHA-256");
  const hashing = digest.getWriter();
  const parts: R2UploadedPart[] = [];
  const part = new Uint8Array(STREAM_PART_BYTES);
  let filled = 0;
  const flush = async () => {
    // R2 has the part once uploadPart resolves: the one buffer is refilled (a copy per part was 8 MiB of garbage).
    parts.push(await upload.uploadPart(parts.length + 1, part.subarray(0, filled)));
    filled = 0;
  };
  try {
    await writeSegments(encoded, sources, async (bytes) => {
      await hashing.write(bytes);
      for (let at = 0; at < bytes.byteLength; ) {
        const n = Math.min(bytes.byteLength - at, STREAM_PART_BYTES - filled);
        part.set(bytes.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === STREAM_PART_BYTES) await flush();
      }
    });
    if (filled > 0 || parts.length === 0) await flush();
    await hashing.close();
    await upload.complete(parts);
  } catch (err) {
    await upload.abort().catch(() => undefined);
    throw err;
  }
  return hexOf(await digest.digest);
}

/**
 * Registers the graph staged under `graphId` with the external data it names: each of its tensors is checked
 * against the files (../onnx/external-data.ts), the model written whole, with those tensors' bytes inline, to a new
 * staged object (read and written a range at a time), and that registered as any upload. The files are consumed once
 * the model is stored; after a failure they stay, for a corrected graph to name. The staged graph is gone either way.
 */
async function registerWithExternalData(
  store: TenantStore,
  graphId: string,
  name: string | undefined,
  fileIds: readonly string[],
): Promise<{ created: boolean; model: ModelView }> {
  const joinedId = newUploadId();
  let sha256: string;
  let files: Map<string, ExternalFile>;
  try {
    files = await requireFiles(store, fileIds, true);
    const graph = await store.stagedSource(graphId);
    const skeleton = decodeModel((await readSkeleton(graph)).bytes);
    resolveExternalData(skeleton, new Map([...files].map(([location, f]) => [location, f.source.size])));
    const encoded = segmentModel(skeleton);
    if (encoded.size > MAX_UPLOAD_TOTAL_BYTES) {
      throw new DomainError("payload_too_large", `the model with its external data inline is ${encoded.size} bytes, over ${MAX_UPLOAD_TOTAL_BYTES} (protobuf's 2 GiB bound on a model)`);
    }
    await requireRoom(store, { models: 1, bytes: encoded.size }, "delete a model or a dataset first");
    sha256 = await writeStaged(await store.createStagedUpload(joinedId), encoded, (location) => (location === SKELETON_LOCATION ? graph : files.get(location)?.source));
  } finally {
    await store.deleteStaged(graphId);
  }
  const result = await registerStagedModel(store, joinedId, name, sha256);
  for (const { upload } of files.values()) {
    await store.deleteUpload(upload.id);
    await store.deleteStaged(upload.id);
  }
  return result;
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
  externalData?: readonly string[],
): Promise<{ created: boolean; model: ModelView }> {
  // Room for what the body declares is checked before a byte is staged (and again, for its real size, once it is).
  if (declared !== undefined) await requireRoom(store, { models: 1, bytes: declared }, "delete a model or a dataset first");
  // The files are checked before a byte is read, and again (they may have expired meanwhile) once the graph is staged.
  if (externalData) await requireFiles(store, externalData, true);
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
  const sha256 = hexOf(await digest.digest);
  return externalData ? registerWithExternalData(store, id, name, externalData) : registerStagedModel(store, id, name, sha256);
}
