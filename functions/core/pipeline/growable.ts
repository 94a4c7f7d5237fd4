/** An append-only Uint32 list: per-row bookkeeping at 4 bytes a row instead of a JS array's 8 or more. */
export class GrowableUint32 {
  #data: Uint32Array;
  #length = 0;

  constructor(initialCapacity = 1024) {
    this.#data = new Uint32Array(initialCapacity);
  }

  get length(): number {
    return this.#length;
  }

  push(value: number): void {
    if (this.#length === this.#data.length) {
      const bigger = new Uint32Array(this.#data.length * 2);
      bigger.set(this.#data);
      this.#data = bigger;
    }
    this.#data[this.#length++] = value;
  }

  /** A copy trimmed to the length, so the next list can start small again. */
  toArray(): Uint32Array {
    return this.#data.slice(0, this.#length);
  }
}
