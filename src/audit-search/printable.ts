/**
 * Text from the input (stream ids, actor ids, file names) shown on a terminal: control characters (line
 * breaks included) and bidirectional overrides are shown as `\uXXXX`, so that each printed line is one line
 * and reads as what it is — an actor id holding "\n…" cannot forge a row, an override cannot reorder one.
 * The same rule as `verify`'s text output.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

export const printable = (s: string): string =>
  s.replace(UNPRINTABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
