/** One argument quoted for a POSIX shell when it needs it (a space, a quote), as is otherwise. */
export const shellQuote = (a: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** The command as typed, for the report's "command" line: each argument quoted for a POSIX shell when it needs it. */
export function commandLine(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
