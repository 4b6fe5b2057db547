/**
 * What a value is, in words, without its text: for errors about a value given where another was expected, whose
 * text may be a URL with credentials or a key ("not a string", "not null").
 */
export const kindOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);
