// The digest table `npm run build` writes (dist/code-digests.json) must give what stripping gives: planning
// trusts it instead of starting esbuild, so an entry that disagreed would give pipe's own stages other keys.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DIGEST_TABLE, scriptDigest, stripAndDigest, type ScriptDigest } from '../../src/plan/code-hash.js';

const dist = fileURLToPath(new URL('../../', import.meta.url));

describe('the built table of script digests', () => {
  const table = JSON.parse(readFileSync(join(dist, DIGEST_TABLE), 'utf8')) as Record<string, ScriptDigest>;

  it('holds every built stage module and agrees with stripping on each', async () => {
    const stages = (await readdir(join(dist, 'stages'))).filter((f) => f.endsWith('.js'));
    assert.ok(stages.length >= 10, stages.join(', '));
    for (const name of stages) {
      const file = join(dist, 'stages', name);
      const bytes = await readFile(file);
      const entry = table[createHash('sha256').update(bytes).digest('hex')];
      assert.ok(entry, `${name} is in the table`);
      assert.deepEqual(entry, await stripAndDigest(file, bytes), name);
      assert.deepEqual(await scriptDigest(file, bytes), entry, name);
    }
  });

  it('does not stand in for a script whose bytes changed: a comment moves no digest, a token does', async () => {
    const file = join(dist, 'src', 'train', 'loop.js');
    const bytes = await readFile(file);
    const original = await scriptDigest(file, bytes);
    const commented = await scriptDigest(file, Buffer.concat([bytes, Buffer.from('\n// a note\n')]));
    assert.deepEqual(commented, original);
    const changed = await scriptDigest(file, Buffer.from(bytes.toString('utf8').replace(/\bconst\b/, 'let')));
    assert.notEqual(changed.digest, original.digest);
    assert.deepEqual(changed.specifiers, original.specifiers);
  });
});
