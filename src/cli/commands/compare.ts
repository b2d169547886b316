// Placeholder until the command lands.
export const usage = 'Usage: pipe compare\n';
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('pipe compare: not available yet\n');
  return 1;
}
