// Whether the bf16 tests run here. They skip where oneDNN's bf16 kernels are not available, except in CI on a
// CPU that has avx512_bf16: there a missing oneDNN must fail the tests, not quietly skip them.
import { readFileSync } from 'node:fs';
import { oneDnnBf16 } from '../../src/tf/native/onednn.js';

export const bf16 = oneDnnBf16();
/** Whether /proc/cpuinfo lists avx512_bf16. */
export const cpuHasBf16 = (() => {
  try {
    return /\bavx512_bf16\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
})();
/** In CI on a CPU with avx512_bf16, where bf16 must be available. */
export const bf16Required = Boolean(process.env.CI) && cpuHasBf16;
/** The bf16 tests' skip reason, or false where they run. */
export const bf16Skip: string | false = !bf16.available && !bf16Required ? `bf16 is not available here: ${bf16.reason}` : false;
