/**
 * JSON.parse for texts whose property names are data (a canonical form's attribute keys), for the tests that
 * check such a text against the generic JCS serializer.
 *
 * Why not JSON.parse: on V8 13.6–14.6 (Node 24 and 26) it can decode an escaped property name wrongly once
 * its key cache was fed a `"\\"` name: `JSON.parse('{"h":[],"\\\\":0}')` then makes `{"h":1,"\""":2}` read back
 * with the key `\` (nodejs/node#63785, https://issues.chromium.org/issues/521080746; Node 20 and 22 are not
 * affected). The property test over random keys hit it on Node 24 in CI. Here every string token, names
 * included, is decoded by JSON.parse as a string *value*, which that bug does not touch; the structure is
 * walked by this small recursive-descent reader. Objects have a null prototype, so `__proto__` is a key.
 * `onRepeat` hears each member name that repeats one before it in the same object, in text order (the last
 * one is kept, as JSON.parse keeps it): the reference of the verifier's duplicate-name scan.
 */
export function parseJsonKeysSafely(text: string, onRepeat?: (name: string) => void): unknown {
  let i = 0;
  const fail = (what: string): never => {
    throw new SyntaxError(`json-parse-keys: ${what} at ${i}`);
  };
  const ws = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const str = (): string => {
    const start = i;
    i++; // opening quote
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === '"') return str();
    if (c === '{') {
      i++;
      const o = Object.create(null) as Record<string, unknown>;
      ws();
      if (text[i] === '}') return i++, o;
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a property name');
        const k = str();
        if (onRepeat !== undefined && Object.hasOwn(o, k)) onRepeat(k);
        ws();
        if (text[i++] !== ':') fail('expected :');
        Object.defineProperty(o, k, { value: value(), enumerable: true, writable: true, configurable: true });
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') return i++, o;
        else fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      const a: unknown[] = [];
      ws();
      if (text[i] === ']') return i++, a;
      for (;;) {
        a.push(value());
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') return i++, a;
        else fail('expected , or ]');
      }
    }
    const m = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
    if (m === null) return fail('unexpected token');
    i += m[0].length;
    return JSON.parse(m[0]) as unknown;
  };
  const v = value();
  ws();
  if (i !== text.length) fail('trailing text');
  return v;
}
