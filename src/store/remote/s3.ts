// The remote cache's objects on S3-compatible object storage (AWS S3, MinIO, Ceph RGW, R2, Garage): the blob
// store of protocol.ts as AWS SDK calls, under s3://<bucket>/<prefix>/. A PUT is atomic on S3: a reader sees
// the old object or all of the new one.
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import type { BlobInfo, BlobSource, BlobStore } from './protocol.js';
import { loadS3Sdk } from '../../packages.js';

/** The pieces of an s3:// URL, or what is wrong with it. */
export function parseS3Url(url: string): { bucket: string; prefix: string } | string {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!match) return `'${url}' is not an s3:// URL (expected s3://bucket or s3://bucket/prefix, bucket in lowercase letters, digits, '.' and '-')`;
  const prefix = (match[2] ?? '').replace(/\/+$/, '');
  if (prefix.split('/').some((p) => p === '.' || p === '..') || /[\\\x00-\x1f]/.test(prefix)) return `'${url}': the prefix must be a plain path`;
  return { bucket: match[1], prefix };
}

/** What a request sent on a connection the server had closed fails with. */
const STALE_CONNECTION = /ECONNRESET|EPIPE|socket hang up/;
type CommandName = 'HeadObjectCommand' | 'GetObjectCommand' | 'PutObjectCommand' | 'DeleteObjectCommand' | 'ListObjectsV2Command';

export class S3BlobStore implements BlobStore {
  private readonly bucket: string;
  private readonly prefix: string;
  private sdk?: Promise<{ s3: typeof import('@aws-sdk/client-s3'); client: S3Client }>;

  constructor(
    url: string,
    /** http(s)://host:port of an S3-compatible server; path-style addressing is used with it. */
    private readonly endpoint?: string,
  ) {
    const parsed = parseS3Url(url);
    if (typeof parsed === 'string') throw new Error(parsed);
    this.bucket = parsed.bucket;
    this.prefix = parsed.prefix ? `${parsed.prefix}/` : '';
  }

  async open(): Promise<void> {
    await this.loadSdk();
  }

  /** The SDK loads on the first request (it is large): a run whose stages are all cached here never loads it. */
  private loadSdk(): Promise<{ s3: typeof import('@aws-sdk/client-s3'); client: S3Client }> {
    this.sdk ??= (async () => {
      // The SDK warns on every Node version its next major release will drop; Node 20 is supported by this one.
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      const s3 = loadS3Sdk();
      const client = new s3.S3Client({
        region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
        ...(this.endpoint ? { endpoint: this.endpoint, forcePathStyle: true } : {}),
        // Since 3.729 the client sends CRC32 checksums by default, which S3-compatible servers may reject.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        // One attempt: a fault switches the remote off for the run, so retries would only multiply the wait.
        // Each call's deadline is the protocol's (its signal), so the handler's own timeouts stay off.
        maxAttempts: 1,
      });
      return { s3, client };
    })();
    return this.sdk;
  }

  /**
   * One request. A connection the server closed while it sat idle in the pool fails the next request sent on it
   * at once ("socket hang up"): that request is sent again, once, on a new connection. A request with a stream
   * body is given as a function that makes it, so that the second one has a fresh stream.
   */
  private async send<T>(name: CommandName, input: Record<string, unknown> | (() => Record<string, unknown>), signal: AbortSignal): Promise<T> {
    const make = typeof input === 'function' ? input : () => input;
    try {
      return await this.sendOnce<T>(name, make(), signal);
    } catch (err) {
      const stale = STALE_CONNECTION.test(`${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`);
      if (!stale || signal.aborted) throw err;
      return this.sendOnce<T>(name, make(), signal);
    }
  }

  private async sendOnce<T>(name: CommandName, input: Record<string, unknown>, abortSignal: AbortSignal): Promise<T> {
    const { s3, client } = await this.loadSdk();
    const command = new (s3[name] as unknown as new (input: Record<string, unknown>) => object)(input);
    return (await client.send(command as never, { abortSignal })) as T;
  }

  private object(key: string): { Bucket: string; Key: string } {
    return { Bucket: this.bucket, Key: `${this.prefix}${key}` };
  }

  async get(key: string, signal: AbortSignal): Promise<{ body: Readable; size?: number } | undefined> {
    try {
      const out = await this.send<{ Body?: Readable; ContentLength?: number }>('GetObjectCommand', this.object(key), signal);
      return { body: out.Body ?? Readable.from([]), ...(out.ContentLength === undefined ? {} : { size: out.ContentLength }) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async put(key: string, body: string | BlobSource, signal: AbortSignal): Promise<void> {
    const contentType = key.endsWith('.json') ? 'application/json' : 'application/octet-stream';
    await this.send(
      'PutObjectCommand',
      typeof body === 'string'
        ? { ...this.object(key), Body: body, ContentType: contentType }
        : () => ({ ...this.object(key), Body: body.open(), ContentLength: body.size, ContentType: contentType }),
      signal,
    );
  }

  async head(key: string, signal: AbortSignal): Promise<boolean> {
    try {
      await this.send('HeadObjectCommand', this.object(key), signal);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async list(prefix: string, signal: AbortSignal, page?: string): Promise<{ objects: BlobInfo[]; next?: string }> {
    const out = await this.send<{ Contents?: { Key?: string; LastModified?: Date; Size?: number }[]; NextContinuationToken?: string; IsTruncated?: boolean }>(
      'ListObjectsV2Command', { Bucket: this.bucket, Prefix: `${this.prefix}${prefix}`, ContinuationToken: page }, signal,
    );
    const objects: BlobInfo[] = [];
    for (const o of out.Contents ?? []) {
      if (o.Key?.startsWith(this.prefix)) objects.push({ key: o.Key.slice(this.prefix.length), modified: o.LastModified ?? new Date(0), size: o.Size ?? 0 });
    }
    return { objects, ...(out.IsTruncated && out.NextContinuationToken ? { next: out.NextContinuationToken } : {}) };
  }

  async delete(key: string, signal: AbortSignal): Promise<void> {
    await this.send('DeleteObjectCommand', this.object(key), signal);
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}
