// A small seeded pseudo-random generator, so that data stages give the same bytes for the same seed on every
// machine and Node version (Math.random cannot be seeded).
//
// sfc32 (Chris Doty-Humphrey's Small Fast Counting generator, 128-bit state) passes PractRand/BigCrush and is
// fast in 32-bit JavaScript arithmetic; splitmix32 spreads a small integer seed over its whole state.

export interface Random {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number;
  /** Standard normal (Box–Muller). */
  normal(): number;
  /** In-place Fisher–Yates shuffle; returns the same array. */
  shuffle<T extends { length: number; [i: number]: unknown }>(values: T): T;
}

function splitmix32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/**
 * A generator for `seed` and optional stream numbers: createRandom(seed, i) gives independent streams for item i,
 * so items can be generated in any order and still come out the same.
 */
export function createRandom(seed: number, ...streams: number[]): Random {
  let mix = splitmix32(seed >>> 0 ^ Math.floor(seed / 2 ** 32));
  for (const stream of streams) mix = splitmix32((mix() ^ Math.imul(stream >>> 0, 0x27d4eb2d)) >>> 0);
  let a = mix();
  let b = mix();
  let c = mix();
  let d = mix();
  const nextUint32 = (): number => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  // Warm up so that nearby seeds diverge at once.
  for (let i = 0; i < 12; i++) nextUint32();
  let spareNormal: number | undefined;
  const next = (): number => nextUint32() / 4294967296;
  return {
    next,
    int(n) {
      return Math.floor(next() * n);
    },
    uniform(lo, hi) {
      return lo + (hi - lo) * next();
    },
    normal() {
      if (spareNormal !== undefined) {
        const v = spareNormal;
        spareNormal = undefined;
        return v;
      }
      let u = 0;
      while (u === 0) u = next();
      const v = next();
      const r = Math.sqrt(-2 * Math.log(u));
      spareNormal = r * Math.sin(2 * Math.PI * v);
      return r * Math.cos(2 * Math.PI * v);
    },
    shuffle(values) {
      for (let i = values.length - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        const t = values[i];
        values[i] = values[j];
        values[j] = t;
      }
      return values;
    },
  };
}
