/**
 * Does this process run with `--abort-on-uncaught-exception`? Then an uncaught exception aborts it (a core dump,
 * SIGTRAP or SIGABRT) with no `exit` event and no `uncaughtException` listener run — measured: an
 * `uncaughtException` listener does not stop the abort — so the exit hooks (exit-hooks.ts) never journal what was
 * accepted. The processor then writes through instead (processor.ts), as it does in a worker thread.
 *
 * Read from NODE_OPTIONS and the command line (`process.execArgv`). Any occurrence counts, of the two spellings Node
 * takes (all dashes or all underscores): a later `--no-abort-on-uncaught-exception` stops the abort only for some
 * exceptions — measured on Node 20, a throw at the top level of an ES module and an unhandled rejection still abort
 * (found in review). A flag set at run time (`v8.setFlagsFromString`) is not seen.
 */
export function abortsOnUncaughtException(execArgv: readonly string[] = process.execArgv, nodeOptions: string | undefined = process.env['NODE_OPTIONS']): boolean {
  return [...nodeOptionsArgs(nodeOptions ?? ''), ...execArgv].some((arg) => arg === '--abort-on-uncaught-exception' || arg === '--abort_on_uncaught_exception');
}

/**
 * NODE_OPTIONS split as Node splits it (src/node_options.cc, ParseNodeOptionsEnvVar): on spaces (only) outside
 * double quotes; a quote toggles quoting and is removed, and inside quotes a backslash escapes the next character.
 */
function nodeOptionsArgs(text: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let startNew = true;
  for (let i = 0; i < text.length; i++) {
    let c = text[i]!;
    if (c === '\\' && quoted && i + 1 < text.length) c = text[++i]!;
    else if (c === ' ' && !quoted) {
      startNew = true;
      continue;
    } else if (c === '"') {
      quoted = !quoted;
      continue;
    }
    if (startNew) out.push(c);
    else out[out.length - 1] += c;
    startNew = false;
  }
  return out;
}
