// Writing run records: atomically (temp file + rename), so a reader never sees half a record.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunRecord } from './record.js';

export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[:.]/g, '-')}-${randomBytes(2).toString('hex')}`;
}

export function runDir(storeRoot: string, id: string): string {
  return join(storeRoot, 'runs', id);
}

export async function writeRunRecord(storeRoot: string, record: RunRecord): Promise<void> {
  const dir = runDir(storeRoot, record.id);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.run.json.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
  await rename(tmp, join(dir, 'run.json'));
}
