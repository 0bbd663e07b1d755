import { type Codec, codecFromCbor } from './codec.js';
import { CodecError } from './errors.js';
import { formatCodecHash } from './hash.js';

export interface CodecRegistryOptions {
  /** Most codecs kept; the least recently used goes first. Default 1024. */
  maxCodecs?: number;
}

/** Codecs keyed by their 64-bit hash, bounded (least recently used evicted). */
export interface CodecRegistry {
  /** Adds a codec under its own hash; returns it. */
  add(codec: Codec): Codec;
  get(hash: bigint): Codec | undefined;
  /** @throws CodecError `CODEC_UNKNOWN_HASH` */
  require(hash: bigint): Codec;
  has(hash: bigint): boolean;
  delete(hash: bigint): boolean;
  /**
   * Accepts a codec a device uploaded ("decoder up" carries the hash and exactly the bytes that are hashed):
   * rebuilds it, checks the hash, registers it.
   * @throws CodecError `CODEC_HASH_MISMATCH` or a CBOR/schema error; nothing is registered then.
   */
  acceptUpload(announcedHash: bigint, bytes: Uint8Array): Codec;
  readonly size: number;
  hashes(): bigint[];
}

export function createCodecRegistry(options: CodecRegistryOptions = {}): CodecRegistry {
  const maxCodecs = options.maxCodecs ?? 1024;
  if (!Number.isSafeInteger(maxCodecs) || maxCodecs < 1) {
    throw new CodecError(
      'CODEC_LIMIT',
      `createCodecRegistry: maxCodecs must be a positive integer, got ${String(maxCodecs)}`,
    );
  }
  // A Map keeps insertion order: re-inserting on use makes its first key the least recently used.
  const codecs = new Map<bigint, Codec>();
  const registry: CodecRegistry = {
    add(codec) {
      codecs.delete(codec.hash);
      codecs.set(codec.hash, codec);
      while (codecs.size > maxCodecs) codecs.delete(codecs.keys().next().value as bigint);
      return codec;
    },
    get(hash) {
      const codec = codecs.get(hash);
      if (codec) {
        codecs.delete(hash);
        codecs.set(hash, codec);
      }
      return codec;
    },
    require(hash) {
      const codec = registry.get(hash);
      if (!codec) throw new CodecError('CODEC_UNKNOWN_HASH', `no codec registered with hash ${formatCodecHash(hash)}`);
      return codec;
    },
    has: (hash) => codecs.has(hash),
    delete: (hash) => codecs.delete(hash),
    acceptUpload(announcedHash, bytes) {
      return registry.add(codecFromCbor(bytes, { expectedHash: announcedHash }));
    },
    get size() {
      return codecs.size;
    },
    hashes: () => [...codecs.keys()],
  };
  return registry;
}
