/** How every subcommand reads its arguments (src/cli/arguments.ts): operands, options, `--`, and option values. */
import { describe, expect, it } from 'vitest';
import { walkArguments, type CliOption } from '../../src/cli/arguments.js';

/** Walks `argv`; options named in `takesValue` take a value, the rest are flags; `--stop` ends the walk. */
function walk(argv: string[], takesValue: string[] = []): { operands: string[]; options: [string, string | undefined][]; stopped?: string } {
  const operands: string[] = [];
  const options: [string, string | undefined][] = [];
  const stopped = walkArguments(argv, operands, (o: CliOption) => {
    if (o.name === '--stop') return o.arg;
    options.push([o.name, takesValue.includes(o.name) ? o.value() : undefined]);
    return undefined;
  });
  return stopped === undefined ? { operands, options } : { operands, options, stopped };
}

describe('walkArguments', () => {
  it.each([
    ['operands only', ['a', 'b'], [], { operands: ['a', 'b'], options: [] }],
    ['a lone - is an operand', ['-', 'x'], [], { operands: ['-', 'x'], options: [] }],
    ['flags among operands', ['a', '--json', 'b'], [], { operands: ['a', 'b'], options: [['--json', undefined]] }],
    ['everything after -- is an operand', ['--json', '--', '--json', '-x'], [], { operands: ['--json', '-x'], options: [['--json', undefined]] }],
    ['--name=value', ['--jobs=2', 'd'], ['--jobs'], { operands: ['d'], options: [['--jobs', '2']] }],
    ['--name value takes the next argument', ['--jobs', '2', 'd'], ['--jobs'], { operands: ['d'], options: [['--jobs', '2']] }],
    ['--name= gives an empty value', ['--jobs=', 'd'], ['--jobs'], { operands: ['d'], options: [['--jobs', '']] }],
    ['a value missing at the end', ['d', '--jobs'], ['--jobs'], { operands: ['d'], options: [['--jobs', undefined]] }],
    ['the name ends at the first =', ['-=x', '--a=b=c'], ['--a'], { operands: [], options: [['-', undefined], ['--a', 'b=c']] }],
    ['the walk stops at the first result', ['a', '--stop', 'b', '--json'], [], { operands: ['a'], options: [], stopped: '--stop' }],
  ] as const)('%s', (_, argv, takesValue, expected) => {
    expect(walk([...argv], [...takesValue])).toEqual(expected);
  });

  it('next() takes the following argument even when the option has an = in it', () => {
    const operands: string[] = [];
    const seen: (string | undefined)[] = [];
    walkArguments(['-n=x', 'five', 'file'], operands, (o) => void seen.push(o.next()));
    expect(seen).toEqual(['five']);
    expect(operands).toEqual(['file']);
  });
});
