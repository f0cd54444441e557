/**
 * Admission to a cache: an item is let in the second time it is seen
 * lately, so the many items a busy service sees only once cost the cache
 * nothing (no copy, no eviction) and cannot push out those seen again. It
 * remembers 32 bits of the last item per slot, so two items sharing a slot
 * and those bits may let the second in early: harmless, the cache only ever
 * holds what it was given.
 * @internal
 */
export class Doorkeeper {
  readonly #marks: Int32Array;

  /** About `size` items remembered (rounded up to a power of two). */
  constructor(size: number) {
    this.#marks = new Int32Array(2 ** Math.ceil(Math.log2(Math.max(2, size))));
  }

  /**
   * Whether the item whose random bits are `slot` and `mark` was the last one
   * seen in its slot; it is the last one from now on.
   */
  seenBefore(slot: number, mark: number): boolean {
    const index = slot & (this.#marks.length - 1);
    if (this.#marks[index] === (mark | 0)) return true;
    this.#marks[index] = mark;
    return false;
  }
}
