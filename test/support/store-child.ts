// A second process for the artifact store tests: `node store-child.js <mode> <store root> <key> [arg]`.
//   write-slowly  begin an entry and write a big file in small chunks forever (the test SIGKILLs it);
//                 prints "writing <temp out dir>" once the first chunk is on disk
//   commit        begin an entry, write fixed content, print "ready", wait until file <arg> exists, commit;
//                 prints the manifest
//   hold-lock     take the key's lock, print "locked", hold it until stdin closes; prints "waited <pid>" if it
//                 had to wait first
import { existsSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LocalStore } from '../../src/store/local-store.js';

const [mode, root, key, arg] = process.argv.slice(2);
const store = new LocalStore(root);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (mode === 'write-slowly') {
  const pending = await store.begin(key, { stage: 'slow', uses: 'test' });
  const file = await open(join(pending.dir, 'big.bin'), 'w');
  const chunk = Buffer.alloc(64 * 1024, 7);
  await file.write(chunk);
  await file.sync();
  process.stdout.write(`writing ${pending.dir}\n`);
  for (;;) {
    await file.write(chunk);
    await sleep(20);
  }
} else if (mode === 'commit') {
  const pending = await store.begin(key, { stage: 'same', uses: 'test' });
  // Same key, same content: what two runs of one stage instance produce.
  await writeFile(join(pending.dir, 'data.bin'), Buffer.alloc(1024 * 1024, 3));
  await writeFile(join(pending.dir, 'summary.txt'), 'done\n');
  process.stdout.write('ready\n');
  while (!existsSync(arg)) await sleep(5);
  const manifest = await pending.commit({ summary: { pid: process.pid } });
  process.stdout.write(`${JSON.stringify(manifest)}\n`);
} else if (mode === 'hold-lock') {
  await store.withLock(
    key,
    (holder) => process.stdout.write(`waited ${holder.pid}\n`),
    async () => {
      process.stdout.write('locked\n');
      process.stdin.resume();
      await new Promise((r) => process.stdin.once('end', r));
    },
  );
} else {
  throw new Error(`unknown mode ${mode}`);
}
