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

export type Library = ReturnType<Koffi['load']>;

/** What loading a native library gave: it, bound, or why not (every candidate's failure, and a hint). */
export type LibraryLoad<T> = { library: T } | { unavailable: string };

/**
 * Loads the first of a native library's file names that loads and binds: `variable` (e.g. PIPE_BLAS) turns it
 * off ('off', '0') or names the one file to try; `bind` throws when a file is not the library expected.
 */
export function loadLibrary<T>(
  what: { label: string; variable: string; files: Record<string, string[]>; hint: string; notIt: string },
  bind: (koffi: Koffi, lib: Library, file: string) => T,
): LibraryLoad<T> {
  const setting = process.env[what.variable]?.trim();
  if (setting === 'off' || setting === '0') return { unavailable: `turned off by ${what.variable}` };
  const ffi = loadKoffi();
  if ('unavailable' in ffi) return ffi;
  const candidates = setting ? [setting] : (what.files[process.platform] ?? what.files.linux);
  const failures: string[] = [];
  for (const file of candidates) {
    let lib: Library;
    try {
      lib = ffi.koffi.load(file);
    } catch (err) {
      failures.push(`${file}: ${firstLine(err)}`);
      continue;
    }
    try {
      return { library: bind(ffi.koffi, lib, file) };
    } catch (err) {
      failures.push(`${file}: loads but ${what.notIt} (${firstLine(err)})`);
    }
  }
  return { unavailable: `${what.label} not found (${failures.join('; ')}); ${what.hint}, or set ${what.variable} to the library's path` };
}

/** A native library whose thread count can be set. */
export interface Threaded {
  setThreads(n: number): void;
  threads(): number;
}

/** Sets `library`'s thread count until the returned function restores it; a no-op without a library. */
export function limitThreads(library: Threaded | undefined, threads: number): () => void {
  if (!library) return () => undefined;
  const before = library.threads();
  library.setThreads(threads);
  return () => library.setThreads(before);
}

export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
