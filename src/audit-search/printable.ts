/**
 * Text from the input (stream ids, actor ids, file names) shown on a terminal: control characters (line breaks
 * included), bidirectional marks and overrides and zero-width characters are shown as `\uXXXX`, so that each
 * printed line is one line and reads as what it is — an actor id holding "\n…" cannot forge a row, an override
 * cannot reorder one, `alice\u200b` does not pass for `alice`.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060\u2066-\u2069\ufeff]/g;

const escape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

export const printable = (s: string): string => s.replace(UNPRINTABLE, escape);

/**
 * One JSON line of `--json` output, as safe on a terminal as the table: JSON.stringify leaves C1 controls (an 8-bit
 * CSI), bidirectional and zero-width characters raw; here they are `\uXXXX` escapes, the same string to a parser.
 */
export const printableJson = (v: unknown): string => JSON.stringify(v).replace(UNPRINTABLE, escape);

export const jsonLine = (v: unknown): string => `${printableJson(v)}\n`;
