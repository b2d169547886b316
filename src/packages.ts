// CommonJS packages loaded with require. An ES module's `import` of a CommonJS package makes Node scan the
// package's files for their exports before running them: about 200 ms for TensorFlow.js, 150 ms for sharp and
// 100 ms for the AWS SDK, paid by every process that loads them. require skips the scan. Every load of these
// packages goes through here, so a process never holds two copies of one (sharp ships an ES build too).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export type Tfjs = typeof import('@tensorflow/tfjs');
export type Sharp = (typeof import('sharp'))['default'];
export type S3Sdk = typeof import('@aws-sdk/client-s3');

/** TensorFlow.js (the union package: core, layers, the cpu backend). */
export const loadTfjs = (): Tfjs => require('@tensorflow/tfjs') as Tfjs;

/** The wasm backend; loading it registers it with TensorFlow.js. */
export const loadTfjsWasm = (): { getThreadsCount?: () => number } => require('@tensorflow/tfjs-backend-wasm') as { getThreadsCount?: () => number };

/** A native TensorFlow.js package (@tensorflow/tfjs-node or -gpu), where one is installed. */
export const loadTfjsNative = (name: string): Tfjs => require(name) as Tfjs;

/** sharp, the image codec. */
export const loadSharp = (): Sharp => require('sharp') as Sharp;

/** The S3 client of the AWS SDK. */
export const loadS3Sdk = (): S3Sdk => require('@aws-sdk/client-s3') as S3Sdk;
