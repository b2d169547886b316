// A real S3-protocol server (s3rver, harness/s3-server.ts) as a child process on a free port of 127.0.0.1,
// stopped by its PID; and the environment that points `pipe` at it as the remote cache.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SERVER_SCRIPT = fileURLToPath(new URL('./s3-server.js', import.meta.url));
export const BUCKET = 'pipe-cache';
export const S3_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

export interface S3Server {
  port: number;
  child: ChildProcess;
  /** Where its objects live: a server started again on it has the same bucket. */
  dir: string;
  /** SIGKILL by PID; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Start s3rver on a free port over `dir` (a new temp folder by default). */
export async function startS3Server(dir?: string): Promise<S3Server> {
  dir ??= await mkdtemp(join(tmpdir(), 'pipe-s3-'));
  const child = spawn(process.execPath, [SERVER_SCRIPT, dir, BUCKET], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve((JSON.parse(text.split('\n')[0]) as { port: number }).port);
    });
    child.on('exit', (code) => reject(new Error(`s3rver exited with ${code}`)));
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    port,
    child,
    dir,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
      await exited;
    },
  };
}

/** The environment of a `pipe` that uses the server's bucket under `prefix` as its remote cache. */
export function remoteEnv(port: number, prefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return { ...S3_CREDENTIALS, PIPE_REMOTE_CACHE: `s3://${BUCKET}/${prefix}`, PIPE_REMOTE_CACHE_ENDPOINT: `http://127.0.0.1:${port}`, PIPE_REMOTE_CACHE_TIMEOUT: '10', ...extra };
}
