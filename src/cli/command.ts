// The shape of one CLI command module in src/cli/commands/.
// Keep top-level imports light: `pipe <command> --help` loads the module, and must answer at once.

export interface CommandModule {
  /** Full help text for `pipe <command> --help`: usage line, what it does, options, examples. */
  usage: string;
  /** Runs the command with the arguments after its name; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}
