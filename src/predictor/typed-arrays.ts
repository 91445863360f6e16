// Growing the predictor's packed columns (src/predictor/caches.ts, key-index.ts).

type Column = Int32Array | Float64Array | Uint8Array;

/** A copy of `a` in a new array of `size` elements (made by `make`), the rest zero. */
export function widened<T extends Column>(a: T, size: number, make: (n: number) => T): T {
  const b = make(size);
  b.set(a);
  return b;
}
