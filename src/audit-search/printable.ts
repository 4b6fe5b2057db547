/**
 * Text from the input (stream ids, actor ids, file names) shown on a terminal: control characters (line breaks
 * included) and every character that displays as nothing (Unicode's Default_Ignorable_Code_Point: bidirectional
 * marks and overrides, zero-width characters, soft hyphen, variation selectors, tag characters, Hangul fillers…;
 * and the Braille blank) are shown as `\uXXXX`, so that each printed line is one line and reads as what it is — an
 * actor id holding "\n…" cannot forge a row, an override cannot reorder one, `alice\u200b` or `al\u00adice` does
 * not pass for `alice` (found in review: the invisible characters beyond zero-width ones were printed raw).
 */
const UNPRINTABLE = /[\p{Cc}\p{Default_Ignorable_Code_Point}\u2028\u2029\u2800]/gu;

/** Each UTF-16 code unit as `\uXXXX` (a character beyond U+FFFF as its surrogate pair): valid in JSON too. */
const escape = (c: string): string => {
  let out = '';
  for (let i = 0; i < c.length; i++) out += `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`;
  return out;
};

export const printable = (s: string): string => s.replace(UNPRINTABLE, escape);

/**
 * One JSON line of `--json` output, as safe on a terminal as the table: JSON.stringify leaves C1 controls (an 8-bit
 * CSI), bidirectional and zero-width characters raw; here they are `\uXXXX` escapes, the same string to a parser.
 */
export const printableJson = (v: unknown): string => JSON.stringify(v).replace(UNPRINTABLE, escape);

export const jsonLine = (v: unknown): string => `${printableJson(v)}\n`;
