/**
 * How every otel-audit subcommand reads its arguments: an argument that does not start with `-`, a lone `-`,
 * and everything after `--` is an operand (a file or directory); anything else is an option.
 */

/** One option, as `walkArguments` hands it over. */
export interface CliOption {
  /** The argument as given, e.g. `--jobs=2`. */
  readonly arg: string;
  /** Its name: the argument up to the first `=` (after its first character), e.g. `--jobs`. */
  readonly name: string;
  /** The option's value: the text after `=`, or else the next argument (taken); undefined when there is none. */
  value(): string | undefined;
  /** Takes the next argument as a value; undefined when there is none. */
  next(): string | undefined;
}

/**
 * Puts the operands of `argv` in `operands` and hands each option to `onOption`, in order. The walk stops at the
 * first result `onOption` returns (an error, or help) and returns it; undefined when every option was taken.
 */
export function walkArguments<R>(argv: readonly string[], operands: string[], onOption: (o: CliOption) => R | undefined): R | undefined {
  let optionsDone = false;
  let k = 0;
  const next = (): string | undefined => argv[++k];
  for (; k < argv.length; k++) {
    const arg = argv[k]!;
    if (optionsDone || !arg.startsWith('-') || arg === '-') {
      operands.push(arg);
      continue;
    }
    if (arg === '--') {
      optionsDone = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const result = onOption({
      arg,
      name: eq > 0 ? arg.slice(0, eq) : arg,
      value: () => (eq > 0 ? arg.slice(eq + 1) : next()),
      next,
    });
    if (result !== undefined) return result;
  }
  return undefined;
}

/**
 * The value of an option that needs one; undefined when it has none: nothing follows, it is empty, or what follows
 * is another option (`--dir --timeout 5`). A value starting with `--` is taken only with `=` (`--dir=--odd`).
 */
export function optionValue(o: CliOption): string | undefined {
  const v = o.value();
  return v === undefined || v === '' || (v.startsWith('--') && !o.arg.includes('=')) ? undefined : v;
}

/**
 * Which single-value options were given: true for a second one (refused by the caller as "given more than once"),
 * rather than the last silently winning — `--dir a --dir b` must not replay or write where the first one pointed.
 */
export function seenBefore(): (name: string) => boolean {
  const seen = new Set<string>();
  return (name) => {
    if (seen.has(name)) return true;
    seen.add(name);
    return false;
  };
}

export { quotedArgument } from '../integrity/keys.js';
