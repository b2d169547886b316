// Placeholder until the command lands.
export const usage = 'Usage: pipe runs\n';
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('pipe runs: not available yet\n');
  return 1;
}
