// Placeholder until the command lands.
export const usage = 'Usage: pipe validate\n';
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('pipe validate: not available yet\n');
  return 1;
}
