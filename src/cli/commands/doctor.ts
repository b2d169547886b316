// `pipe doctor`: which TensorFlow.js backends work on this machine, why the others do not, and what
// `backend: auto` resolves to. Heavy modules are imported inside run() so --help stays instant.
import type { BackendName } from '../../tf/backend.js';

export const usage = `Usage: pipe doctor [--json]

Shows which TensorFlow.js backends work here and why the others do not:
  tensorflow  native TensorFlow via @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node (installed? loads?)
  wasm        WebAssembly backend: SIMD, threads, whether pipe's training kernels are registered, and
              whether its convolutions run on oneDNN or OpenBLAS (native libraries through koffi)
              or on XNNPACK; PIPE_ONEDNN=off and PIPE_BLAS=off turn the native libraries off
  cpu         pure JavaScript reference backend (always works; very slow for conv nets)
and what 'backend: auto' in a pipeline resolves to.

Options:
  --json      print the findings as JSON
  -h, --help  show this help

Exit status: 0 when the backend 'auto' resolves to loads, 1 otherwise.
`;

interface BackendReport {
  name: BackendName;
  ok: boolean;
  details: string[];
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

async function checkTensorflow(): Promise<BackendReport> {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const details: string[] = [];
  let ok = false;
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require.resolve(`${pkg}/package.json`);
    } catch {
      details.push(`${pkg}: not installed`);
      continue;
    }
    try {
      await import(pkg);
      details.push(`${pkg}: installed, loads`);
      ok = true;
    } catch (err) {
      details.push(`${pkg}: installed but does not load: ${firstLine(err)}`);
    }
  }
  if (!ok) details.push('native TensorFlow is the fastest backend; install @tensorflow/tfjs-node (or -gpu) where its prebuilt binaries exist');
  return { name: 'tensorflow', ok, details };
}

async function checkWasm(): Promise<BackendReport> {
  const details: string[] = [];
  try {
    const { loadTf } = await import('../../tf/backend.js');
    const { tf } = await loadTf('wasm');
    const wasm = (await import('../../packages.js')).loadTfjsWasm();
    const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
    const threadsSupported = Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'));
    const threads = wasm.getThreadsCount?.() ?? 1;
    details.push(`loads; SIMD ${simd ? 'yes' : 'no'}; threads ${threads}${threadsSupported ? '' : ' (the multithreaded build does not run under Node)'}`);
    const { wasmTrainingKernelsRegistered } = await import('../../tf/wasm/register.js');
    const kernels = wasmTrainingKernelsRegistered(tf);
    const missing = Object.entries(kernels).filter(([, v]) => !v).map(([k]) => k);
    details.push(
      missing.length === 0
        ? `training kernels registered: ${Object.keys(kernels).join(', ')}`
        : `training kernels MISSING: ${missing.join(', ')} (conv nets will fail or crawl)`,
    );
    const { nativeKernels, nativeKernelsPassedOver } = await import('../../tf/native/kernels.js');
    const { wasmNativeKernelsRegistered } = await import('../../tf/wasm/register.js');
    const native = nativeKernels();
    if (native.name === 'onednn') {
      details.push(`native kernels: oneDNN ${native.onednn.name} runs ${wasmNativeKernelsRegistered(tf).join(', ')} (convolutions at all strides)`);
    } else if (native.name === 'openblas') {
      details.push(`native kernels: OpenBLAS ${native.blas.name} runs ${wasmNativeKernelsRegistered(tf).join(', ')} (stride-1 convolutions)`);
    } else {
      details.push('native kernels: none; convolutions run on XNNPACK, about 3x slower to train');
    }
    for (const why of nativeKernelsPassedOver()) details.push(`  not used: ${why}`);
    const { simdKernels } = await import('../../tf/wasm/simd.js');
    details.push(
      simdKernels(tf.backend() as never)
        ? "SIMD kernels: loaded (batch norm, relu, pooling gradients, reductions, Adam)"
        : "SIMD kernels: NOT loaded (dist/src/tf/wasm/simd-kernels.wasm missing: run 'npm run build'); JavaScript loops instead, several times slower",
    );
    const { availableParallelism } = await import('node:os');
    details.push(`data-parallel training: up to ${availableParallelism()} worker thread(s), one per core`);
    return { name: 'wasm', ok: missing.length === 0, details };
  } catch (err) {
    details.push(`does not load: ${firstLine(err)}`);
    return { name: 'wasm', ok: false, details };
  }
}

async function checkCpu(): Promise<BackendReport> {
  try {
    const { loadTf } = await import('../../tf/backend.js');
    await loadTf('cpu');
    return { name: 'cpu', ok: true, details: ['loads (pure JavaScript, single thread; minutes per batch for the paper CNN: use for tests only)'] };
  } catch (err) {
    return { name: 'cpu', ok: false, details: [`does not load: ${firstLine(err)}`] };
  }
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(usage);
    return 0;
  }
  const unknown = argv.filter((a) => a !== '--json');
  if (unknown.length) {
    process.stderr.write(`pipe doctor: unknown option '${unknown[0]}'\n\n${usage}`);
    return 2;
  }
  const { resolveBackend, tfjsVersion } = await import('../../tf/backend.js');
  const { availableParallelism } = await import('node:os');
  // Native first: importing tfjs-node registers its backend, which must not perturb the others' checks.
  const reports = [await checkTensorflow(), await checkWasm(), await checkCpu()];
  const auto = resolveBackend('auto');
  const autoOk = reports.find((r) => r.name === auto)?.ok ?? false;
  if (argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ tfjs: tfjsVersion(), auto, autoOk, backends: reports }, null, 2)}\n`);
    return autoOk ? 0 : 1;
  }
  const lines = [
    `TensorFlow.js ${tfjsVersion()} on Node ${process.versions.node}, ${process.platform}-${process.arch}, ${availableParallelism()} cores`,
    '',
  ];
  for (const r of reports) {
    lines.push(`  ${r.ok ? '✓' : '✗'} ${r.name.padEnd(11)}${r.details[0]}`);
    for (const d of r.details.slice(1)) lines.push(`  ${' '.repeat(13)}${d}`);
  }
  lines.push('', `backend: auto → ${auto}${autoOk ? '' : ' (which does NOT work here: see above)'}`, '');
  process.stdout.write(lines.join('\n'));
  return autoOk ? 0 : 1;
}
