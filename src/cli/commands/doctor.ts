// Placeholder until the command lands.
export const usage = 'Usage: pipe doctor\n';
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('pipe doctor: not available yet\n');
  return 1;
}
