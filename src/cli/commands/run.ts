// Placeholder until the command lands.
export const usage = 'Usage: pipe run\n';
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('pipe run: not available yet\n');
  return 1;
}
