// Placeholder until the command lands.
export const usage = 'Usage: pipe dag\n';
export async function run(_argv: string[]): Promise<number> {
  process.stderr.write('pipe dag: not available yet\n');
  return 1;
}
