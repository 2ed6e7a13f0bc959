/**
 * Where entries keep their canonical bytes. Small entries are packed into
 * shared 8 KiB slabs, as Buffer.allocUnsafe packs small buffers into its 8 KiB
 * pool (so a slab stays alive while any entry in it does, exactly as a pool
 * chunk does today), but without a Buffer object per entry: an entry holds
 * the slab, a start and an end. That object was ~90 bytes of each key's
 * memory and a good part of the time to recover a log.
 */
const SLAB_BYTES = 8192;
/** Larger entries get a buffer of their own (Buffer's pool uses the same cut). */
const MAX_PACKED = SLAB_BYTES >>> 1;

let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let used = 0;

/** The buffer of the last `reserve`; valid until the next call. */
export let reserved: Buffer = slab;

/** Reserve `n` bytes for one entry; returns the offset in `reserved`. */
export function reserve(n: number): number {
  if (n > MAX_PACKED) {
    reserved = Buffer.allocUnsafeSlow(n);
    return 0;
  }
  if (used + n > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    used = 0;
  }
  reserved = slab;
  const off = used;
  used += n;
  return off;
}
