// Placeholder until the command lands.
export const usage = 'Usage: pipe schema\n';
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('pipe schema: not available yet\n');
  return 1;
}
