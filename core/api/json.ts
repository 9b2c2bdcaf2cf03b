// JSON text as Go's encoding/json writes it, so replies agree with etcd byte for byte: Go's string
// escaping (HTML-sensitive characters and U+2028/U+2029 are escaped). A lone surrogate stands for a byte
// that was not valid UTF-8 (see decodeUtf8Lossless in form.ts); Go prints each such byte as \ufffd.

const HEX = '0123456789abcdef';

export function goJsonString(s: string): string {
  let out = '"';
  let runStart = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let escaped: string | null = null;
    if (c < 0x20) {
      if (c === 10) escaped = '\\n';
      else if (c === 13) escaped = '\\r';
      else if (c === 9) escaped = '\\t';
      else escaped = '\\u00' + HEX[c >> 4]! + HEX[c & 15]!;
    } else if (c === 34) escaped = '\\"';
    else if (c === 92) escaped = '\\\\';
    else if (c === 60) escaped = '\\u003c';
    else if (c === 62) escaped = '\\u003e';
    else if (c === 38) escaped = '\\u0026';
    else if (c === 0x2028) escaped = '\\u2028';
    else if (c === 0x2029) escaped = '\\u2029';
    else if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        i++;
        continue;
      }
      escaped = '\\ufffd';
    }
    if (escaped !== null) {
      out += s.slice(runStart, i) + escaped;
      runStart = i + 1;
    }
  }
  return out + s.slice(runStart) + '"';
}
