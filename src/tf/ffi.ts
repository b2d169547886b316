// The koffi FFI, shared by the native libraries the wasm kernels call (blas.ts, onednn.ts), and the
// addresses they are called with. Pointers are plain addresses: koffi copies TypedArray arguments, and an
// address into the wasm heap lets a native kernel read and write tensors where they are.
import { createRequire } from 'node:module';

type Fn = (...args: unknown[]) => unknown;

export interface Koffi {
  load(path: string): { func(name: string, result: string, args: string[]): Fn };
  address(value: unknown): bigint;
  decode(pointer: unknown, offset: number, type: string): unknown;
}

let koffi: Koffi | undefined;

/** koffi, or why it does not load here. */
export function loadKoffi(): { koffi: Koffi } | { unavailable: string } {
  try {
    koffi ??= createRequire(import.meta.url)('koffi') as Koffi;
    return { koffi };
  } catch (err) {
    return { unavailable: `the koffi FFI package does not load here (${firstLine(err)})` };
  }
}

/** The address of a TypedArray view's first element. Call after loadKoffi() succeeded. */
export function nativeAddress(view: ArrayBufferView): bigint {
  if (!koffi) throw new Error('nativeAddress() before loadKoffi()');
  return BigInt(koffi.address(view));
}

export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
