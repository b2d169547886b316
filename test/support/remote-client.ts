// What the remote-cache tests share: an S3 client of the test server's bucket, listings of what a run left there,
// and runs of the toy project (blocking, or as a child process for servers that live in the test's process).
import assert from 'node:assert/strict';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type { RunRecord } from '../../src/runs/record.js';
import { BUCKET } from './s3-server-process.js';
import { spawnPipe, type ToyProject } from './toy-project.js';

export function s3(port: number): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${port}`,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}

export async function listKeys(port: number, prefix: string): Promise<string[]> {
  const out = await s3(port).send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

/** The cache keys of the entries under `prefix`. */
export async function entryKeys(port: number, prefix: string): Promise<string[]> {
  return (await listKeys(port, `${prefix}/pipe-cache-v1/entries/`)).map((k) => k.split('/').pop()!.replace('.json', ''));
}

export async function getText(port: number, key: string): Promise<string> {
  const out = await s3(port).send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return out.Body!.transformToString();
}

/** `pipe run pipeline.yaml --json` in the toy project; fails the test unless it succeeds. */
export function run(project: ToyProject, env: Record<string, string>, args: string[] = []): { record: RunRecord; stderr: string } {
  const result = project.pipe(['run', 'pipeline.yaml', '--json', ...args], env);
  assert.equal(result.status, 0, `pipe run failed:\n${result.stderr}\n${result.stdout}`);
  return { record: JSON.parse(result.stdout) as RunRecord, stderr: result.stderr };
}

/** As run(), without blocking this process: for servers that live in it (a proxy, a silent port). */
export async function runAsync(project: ToyProject, env: Record<string, string>, args: string[] = []): Promise<{ record: RunRecord; stderr: string }> {
  const child = spawnPipe(project.dir, ['run', 'pipeline.yaml', '--json', ...args], env);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, `pipe run failed:\n${stderr}\n${stdout}`);
  return { record: JSON.parse(stdout) as RunRecord, stderr };
}

/** Each stage's status, 'remote' for one that came from the remote cache. */
export function statuses(record: RunRecord): Record<string, string> {
  return Object.fromEntries(Object.entries(record.stages).map(([id, s]) => [id, s.cachedFrom === 'remote' ? 'remote' : s.status]));
}
