// Placeholder until the command lands.
export const usage = 'Usage: pipe cache\n';
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('pipe cache: not available yet\n');
  return 1;
}
