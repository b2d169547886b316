// Placeholder until the command lands.
export const usage = 'Usage: pipe status\n';
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('pipe status: not available yet\n');
  return 1;
}
