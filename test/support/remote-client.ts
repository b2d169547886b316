// What the remote-cache tests share: the remote under test on either transport, a real S3-protocol server
// (s3rver, a child process on 127.0.0.1) or a shared folder (a temp folder, as an NFS or SMB mount is to each
// machine), with what the tests do to it behind pipe's back (list, read, overwrite, delete and backdate objects);
// and runs of the toy project (blocking, or as a child process for servers that live in the test's process).
//
//   for (const transport of TRANSPORTS) {
//     describe(`... (${transport})`, () => {
//       const remote = useRemote(transport); // started before the describe's tests, removed after them
//       it('...', () => run(project, remote.env('prefix', { PIPE_REMOTE_CACHE_WRITE: '1' })));
//     });
//   }
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, stat, utimes, writeFile, mkdir, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before } from 'node:test';
import { pathToFileURL } from 'node:url';
import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { RunRecord } from '../../src/runs/record.js';
import { BUCKET, remoteEnv, startS3Server, type S3Server } from '../../harness/s3-server-process.js';
import { spawnPipe, type ToyProject } from '../../harness/toy-project.js';

export type Transport = 's3' | 'folder';
export const TRANSPORTS: Transport[] = ['s3', 'folder'];

export interface TestRemote {
  readonly transport: Transport;
  /** The remote cache's URL under `prefix`, as pipe names it in messages. */
  url(prefix: string): string;
  /** The environment of a `pipe` that uses the remote under `prefix` (a 10 s request deadline), read-only unless `extra` says. */
  env(prefix: string, extra?: Record<string, string>): Record<string, string>;
  /** Every object key under `prefix` ('shared/pipe-cache-v1/entries/<key>.json'), sorted; in a folder, temp files too. */
  keys(prefix: string): Promise<string[]>;
  /** The cache keys of the entries under `prefix`. */
  entryKeys(prefix: string): Promise<string[]>;
  read(key: string): Promise<string>;
  /** Overwrite (or make) an object, as anyone who may write the remote can. */
  write(key: string, body: string): Promise<void>;
  remove(key: string): Promise<void>;
  modifiedAt(key: string): Promise<Date>;
  /** Set an object's time back, as if written then. */
  backdate(key: string, to: Date): Promise<void>;
}

export interface S3TestRemote extends TestRemote {
  readonly server: S3Server;
  /** The environment of a `pipe` that reaches the server through `port` (a proxy in front of it). */
  envVia(port: number, prefix: string, extra?: Record<string, string>): Record<string, string>;
  /** Kill the server and start it again on the same objects. */
  restart(): Promise<void>;
}

/** The remote of `transport` for the tests of the enclosing describe: started before them, removed after them. */
export function useRemote(transport: Transport): TestRemote {
  return transport === 's3' ? useS3Remote() : useFolderRemote();
}

const trimmed = (prefix: string) => prefix.replace(/\/+$/, '');

export function useS3Remote(): S3TestRemote {
  let server: S3Server | undefined;
  before(async () => {
    server = await startS3Server();
  });
  after(async () => {
    if (!server) return;
    await server.stop();
    await rm(server.dir, { recursive: true, force: true });
  });
  const live = (): S3Server => server ?? assert.fail('the S3 server has not started');
  const client = () => s3(live().port);
  return {
    transport: 's3',
    get server() {
      return live();
    },
    url: (prefix) => `s3://${BUCKET}/${prefix}`,
    env: (prefix, extra = {}) => remoteEnv(live().port, prefix, extra),
    envVia: (port, prefix, extra = {}) => remoteEnv(port, prefix, extra),
    async keys(prefix) {
      const out = await client().send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${trimmed(prefix)}/` }));
      return (out.Contents ?? []).map((o) => o.Key!).sort();
    },
    async entryKeys(prefix) {
      return (await this.keys(`${prefix}/pipe-cache-v1/entries`)).map(entryKeyOf);
    },
    async read(key) {
      const out = await client().send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      return out.Body!.transformToString();
    },
    async write(key, body) {
      await client().send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    },
    async remove(key) {
      await client().send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
    },
    async modifiedAt(key) {
      return (await client().send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).LastModified!;
    },
    async backdate(key, to) {
      // s3rver keeps each object in a file whose time it reports.
      await utimes(join(live().dir, BUCKET, ...`${key}._S3rver_object`.split('/')), to, to);
    },
    async restart() {
      const dir = live().dir;
      await live().stop();
      server = await startS3Server(dir);
    },
  };
}

export function useFolderRemote(): TestRemote & { readonly root: string } {
  let root: string | undefined;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'pipe-shared-'));
  });
  after(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });
  const live = (): string => root ?? assert.fail('the shared folder has not been made');
  const pathOf = (key: string) => join(live(), ...key.split('/'));
  return {
    transport: 'folder',
    get root() {
      return live();
    },
    url: (prefix) => pathToFileURL(join(live(), prefix)).href,
    env(prefix, extra = {}) {
      // The share is there (mounted); what pipe keeps in it, it makes.
      mkdirSync(join(live(), prefix), { recursive: true });
      return { PIPE_REMOTE_CACHE: this.url(prefix), PIPE_REMOTE_CACHE_TIMEOUT: '10', ...extra };
    },
    async keys(prefix) {
      const out: string[] = [];
      const visit = async (dir: string, keyPrefix: string): Promise<void> => {
        let items;
        try {
          items = await readdir(dir, { withFileTypes: true });
        } catch {
          return;
        }
        for (const item of items) {
          if (item.isDirectory()) await visit(join(dir, item.name), `${keyPrefix}${item.name}/`);
          else out.push(keyPrefix + item.name);
        }
      };
      await visit(pathOf(trimmed(prefix)), `${trimmed(prefix)}/`);
      return out.sort();
    },
    async entryKeys(prefix) {
      return (await this.keys(`${prefix}/pipe-cache-v1/entries`)).map(entryKeyOf);
    },
    read: (key) => readFile(pathOf(key), 'utf8'),
    async write(key, body) {
      await mkdir(dirname(pathOf(key)), { recursive: true });
      await writeFile(pathOf(key), body);
    },
    remove: (key) => unlink(pathOf(key)),
    modifiedAt: async (key) => (await stat(pathOf(key))).mtime,
    backdate: (key, to) => utimes(pathOf(key), to, to),
  };
}

function entryKeyOf(objectKey: string): string {
  return objectKey.split('/').pop()!.replace('.json', '');
}

/** A client of the test server's bucket, for what only S3 has. */
export function s3(port: number): S3Client {
  // As pipe does: the SDK's warning about Node versions its next major release drops says nothing about a test.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${port}`,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
}

/** `text` as a literal part of a RegExp. */
export function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
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
