// The shape of one CLI command module in src/cli/commands/.
// Keep top-level imports light: `pipe <command> --help` loads the module, and must answer at once.

export interface CommandModule {
  /** Full help text for `pipe <command> --help`: usage line, what it does, options, examples. */
  usage: string;
  /** The help of a subcommand (`pipe runs note --help`), given the arguments; `usage` where absent. */
  helpFor?(argv: string[]): string;
  /** Runs the command with the arguments after its name; resolves to the process exit code. */
  run(argv: string[], options?: CommandOptions): Promise<number>;
}

/** Global options, taken off the command line by main before the command sees its arguments. */
export interface CommandOptions {
  /** --debug: print stack traces of errors. */
  debug?: boolean;
}
