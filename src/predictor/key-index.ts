// Keys (`namespace/name`) to slot numbers without a string per key: the keys' UTF-8 bytes packed in one
// growing byte arena, found through an open-addressing table of slot numbers (linear probing, FNV-1a
// hashes, at most half full). At 150,000 pods a Map<string, number> held about 125 bytes of V8 heap per
// pod (the key as two concatenated strings over the listed name, and the map's entry), scattered over
// the old space among the list's garbage; here it is under 80 bytes per pod (its unit test checks it at
// 150,000 keys) in a few typed arrays, outside the V8 heap.

import { widened } from './typed-arrays.ts';

const EMPTY = 0;
const DELETED = -1;
const MIN_TABLE = 1024;
const MIN_ARENA = 16 * 1024;

const encoder = new TextEncoder();

/** FNV-1a over `bytes[0, length)`, as a 32-bit integer. */
function hashOf(bytes: Uint8Array, length: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ (bytes[i] ?? 0), 0x01000193);
  return h | 0;
}

/**
 * A map from string keys to slot numbers the caller allocates (0, 1, 2, …, reused after a delete).
 * `set` takes a key that is not present; `delete` returns the key's slot.
 */
export class KeyIndex {
  /** Slot + 1 per table position; EMPTY or DELETED otherwise. Its size is a power of two. */
  private table = new Int32Array(MIN_TABLE);
  private tombstones = 0;
  private count = 0;
  /** Per slot: where its key starts in the arena, its length in bytes (-1: no key). */
  private start = new Int32Array(MIN_TABLE);
  private length = new Int32Array(MIN_TABLE).fill(-1);
  private arena = new Uint8Array(MIN_ARENA);
  private arenaUsed = 0;
  private arenaGarbage = 0;
  /** The key being looked up, encoded. */
  private scratch = new Uint8Array(256);

  get size(): number {
    return this.count;
  }

  /** The bytes the index holds (its typed arrays), for tests and measurements. */
  get bytes(): number {
    return (
      this.table.byteLength +
      this.start.byteLength +
      this.length.byteLength +
      this.arena.byteLength +
      this.scratch.byteLength
    );
  }

  clear(): void {
    this.table = new Int32Array(MIN_TABLE);
    this.tombstones = 0;
    this.count = 0;
    this.start = new Int32Array(MIN_TABLE);
    this.length = new Int32Array(MIN_TABLE).fill(-1);
    this.arena = new Uint8Array(MIN_ARENA);
    this.arenaUsed = 0;
    this.arenaGarbage = 0;
  }

  get(key: string): number | undefined {
    const at = this.find(this.encode(key));
    return at < 0 ? undefined : (this.table[at] ?? 0) - 1;
  }

  /** Adds `key` (not present) for `slot` (not in use). */
  set(key: string, slot: number): void {
    const n = this.encode(key);
    if (slot >= this.length.length) this.growSlots(slot + 1);
    if (this.arenaUsed + n > this.arena.length) this.makeRoom(n);
    this.arena.set(this.scratch.subarray(0, n), this.arenaUsed);
    this.start[slot] = this.arenaUsed;
    this.length[slot] = n;
    this.arenaUsed += n;
    this.insert(slot, hashOf(this.scratch, n));
    this.count++;
    if ((this.count + this.tombstones) * 2 > this.table.length) this.rehash();
  }

  /** Removes `key`; returns its slot, undefined if it was not present. */
  delete(key: string): number | undefined {
    const at = this.find(this.encode(key));
    if (at < 0) return undefined;
    const slot = (this.table[at] ?? 0) - 1;
    this.table[at] = DELETED;
    this.tombstones++;
    this.count--;
    this.arenaGarbage += this.length[slot] ?? 0;
    this.length[slot] = -1;
    return slot;
  }

  /** `key`'s UTF-8 bytes into the scratch buffer; their number. */
  private encode(key: string): number {
    if (key.length * 3 > this.scratch.length) this.scratch = new Uint8Array(key.length * 3);
    return encoder.encodeInto(key, this.scratch).written;
  }

  /** The table position holding the scratch key of `n` bytes; -1 if absent. */
  private find(n: number): number {
    const h = hashOf(this.scratch, n);
    const mask = this.table.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const t = this.table[i] ?? EMPTY;
      if (t === EMPTY) return -1;
      if (t !== DELETED && this.sameKey(t - 1, n)) return i;
    }
  }

  private sameKey(slot: number, n: number): boolean {
    if (this.length[slot] !== n) return false;
    const s = this.start[slot] ?? 0;
    for (let i = 0; i < n; i++) if (this.arena[s + i] !== this.scratch[i]) return false;
    return true;
  }

  /** Puts `slot` (its key's hash `h`) at the first free position of its probe sequence. */
  private insert(slot: number, h: number): void {
    const mask = this.table.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const t = this.table[i] ?? EMPTY;
      if (t === EMPTY || t === DELETED) {
        if (t === DELETED) this.tombstones--;
        this.table[i] = slot + 1;
        return;
      }
    }
  }

  /** A table twice the live keys' need (at least), without tombstones. */
  private rehash(): void {
    let size = MIN_TABLE;
    while (size < this.count * 4) size *= 2;
    this.table = new Int32Array(size);
    this.tombstones = 0;
    for (let slot = 0; slot < this.length.length; slot++) {
      const n = this.length[slot] ?? -1;
      if (n < 0) continue;
      const s = this.start[slot] ?? 0;
      this.insert(slot, hashOf(this.arena.subarray(s, s + n), n));
    }
  }

  private growSlots(need: number): void {
    const size = Math.max(need, Math.ceil(this.length.length * 1.5));
    this.start = widened(this.start, size, (n) => new Int32Array(n));
    const known = this.length.length;
    this.length = widened(this.length, size, (n) => new Int32Array(n)).fill(-1, known);
  }

  /** Room for `n` more bytes: the live keys packed to the front, in an arena grown by half when three quarters full. */
  private makeRoom(n: number): void {
    const live = this.arenaUsed - this.arenaGarbage;
    const size = (live + n) * 4 > this.arena.length * 3 ? Math.ceil((live + n) * 1.5) : this.arena.length;
    const next = new Uint8Array(size);
    let used = 0;
    for (let slot = 0; slot < this.length.length; slot++) {
      const len = this.length[slot] ?? -1;
      if (len < 0) continue;
      const s = this.start[slot] ?? 0;
      next.set(this.arena.subarray(s, s + len), used);
      this.start[slot] = used;
      used += len;
    }
    this.arena = next;
    this.arenaUsed = used;
    this.arenaGarbage = 0;
  }
}
