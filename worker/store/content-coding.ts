// Content codings of ONNX downloads. A download is always the stored bytes (no Content-Encoding); compressing them
// for a client that asks is the front line's job (Cloudflare's network; Miniflare's entry worker under wrangler dev):
// - The Worker sees `Accept-Encoding: br, gzip` whatever the client sent (nothing, identity, gzip, ...); the client's
//   own value is `request.cf.clientAcceptEncoding` ("" when it sent none under wrangler dev).
// - A response without Content-Encoding whose Content-Type the front line compresses goes out as is to a client that
//   asked for no coding, and gzip/br-encoded (no Content-Length) to one that accepts them; Cloudflare then weakens a
//   strong ETag. `application/x-protobuf` is on that list (Cloudflare's content compression reference, copied by
//   Miniflare), `application/octet-stream` is not.
// - Under wrangler dev, a response the Worker encodes itself (Content-Encoding, encodeBody "automatic" or "manual")
//   as `application/octet-stream` reaches the client encoded even when it asked for nothing or identity.
// So downloads are `application/x-protobuf` (an ONNX model is a serialized onnx.ModelProto) and never encoded here.
// What stays is the size of each coding of some bytes, reported with every variant (`stages.encoded`).
import { brotliCompressSync, constants } from "node:zlib";
import { nextTurn } from "../turns";

/** The media type of an ONNX download, one the front line compresses for clients that accept gzip or br. */
export const ONNX_MEDIA_TYPE = "application/x-protobuf";

/**
 * Brotli quality of the reported sizes: 4, the quality on-the-fly compression uses. On an int8 ResNet-18 (11 MB) it
 * came within 6% of quality 9 (smaller, even: weights are near-random bytes) in 0.3 s where 9 took 6 s of one thread.
 */
const BROTLI_QUALITY = 4;

/** Brotli compresses this much at a time, a timer turn between pieces: requests waiting on the isolate get in. */
const BROTLI_PIECE_BYTES = 1 << 20;

async function gzipBytes(bytes: Uint8Array): Promise<Uint8Array> {
  const gzip = new CompressionStream("gzip") as unknown as TransformStream<Uint8Array, Uint8Array>;
  return new Uint8Array(await new Response(new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(gzip)).arrayBuffer());
}

// workerd's CompressionStream has no brotli, so br uses node:zlib. Pieces of 1 MiB compress to within 0.1% of the whole.
async function brotliSize(bytes: Uint8Array): Promise<number> {
  let size = 0;
  let at = 0;
  do {
    if (at > 0) await nextTurn();
    const piece = bytes.subarray(at, at + BROTLI_PIECE_BYTES);
    const params = { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: piece.byteLength };
    size += brotliCompressSync(piece, { params }).byteLength;
    at += BROTLI_PIECE_BYTES;
  } while (at < bytes.byteLength);
  return size;
}

/** Bytes on the wire for each coding. */
export async function encodedSizes(bytes: Uint8Array): Promise<{ gzip: number; br: number }> {
  return { gzip: (await gzipBytes(bytes)).byteLength, br: await brotliSize(bytes) };
}
