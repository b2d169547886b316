// Loaded into every unit test file by `npm run test:unit` (scripts/test.mjs --unit): a unit test that starts a
// process or a listening server fails at once, saying where such a test belongs. That keeps the unit subset fast
// however it grows. esbuild's own service process (the code hash strips comments with it) is part of a library
// call, not a process a test starts, and is allowed.
import childProcess from 'node:child_process';
import net from 'node:net';
import { syncBuiltinESMExports } from 'node:module';

// The runner's own process spawns the test files; only the files themselves are guarded.
if (process.env.NODE_TEST_CONTEXT) {
  const refuse = (what: string): never => {
    throw new Error(`a unit test ${what}: name the file *.system.test.ts to run it with the system tests (npm test)`);
  };
  const isEsbuild = (command: unknown): boolean => typeof command === 'string' && /[\\/]esbuild(\.exe)?$|[\\/]@esbuild[\\/]/.test(command);
  for (const name of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'] as const) {
    const original = childProcess[name] as (...args: unknown[]) => unknown;
    (childProcess as unknown as Record<string, unknown>)[name] = function guarded(this: unknown, ...args: unknown[]) {
      if (!isEsbuild(args[0])) refuse(`starts a process (child_process.${name} ${String(args[0])})`);
      return original.apply(this, args);
    };
  }
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function guarded(this: net.Server, ...args: unknown[]) {
    refuse('starts a server');
    return listen.apply(this, args as Parameters<typeof listen>);
  } as typeof listen;
  syncBuiltinESMExports();
}
