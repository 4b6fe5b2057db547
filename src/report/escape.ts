/**
 * Everything the report shows from the input — file names, stream and record ids, messages quoting values —
 * is attacker-controlled. It goes into the page only through `text` (element content) or `attr` (a quoted
 * attribute value): the five HTML metacharacters become entities, so no input can open a tag, close an
 * attribute or start a script; control characters and bidirectional overrides are shown as `\uXXXX`
 * (printable.ts), so no input can hide or reorder what is next to it.
 */
import { printable } from '../audit-search/printable.js';

const ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Element content. */
export const text = (s: string): string => printable(s).replace(/[&<>"']/g, (c) => ENTITY[c]!);

/** A double-quoted attribute value (the same escaping: quotes included). */
export const attr = text;
