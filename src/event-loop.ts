// Turns of the event loop inside long loops on the main thread. A loop whose awaits all resolve at once (tensor
// reads on the cpu and wasm backends, pure computation) never lets the event loop run: Ctrl-C's handler, which
// aborts the run's signal, would wait until the loop ends, minutes later in a training epoch.

/**
 * A function for a long loop to await between units of work (a batch, an image): when `everyMs` have passed since
 * the last turn it lets the event loop take one (setImmediate), so signal handlers and I/O run; otherwise it
 * returns at once. Check the abort signal after awaiting it.
 */
export function eventLoopTurns(everyMs = 20): () => Promise<void> | undefined {
  let last = performance.now();
  return () => {
    const now = performance.now();
    if (now - last < everyMs) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        last = performance.now();
        resolve();
      }),
    );
  };
}
