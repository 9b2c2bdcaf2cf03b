// The body of a member-add request (POST /v2/members) read the way etcd 3.4 reads it: the content type check of
// its unmarshalRequest, Go's encoding/json into `struct { PeerURLs []string }` (with Go's error texts for the
// usual mistakes), then the checks of etcd's types.NewURLs. Pure: header and bytes in, URLs or etcd's 4xx out.

export type MemberCreateRequest = { ok: true; urls: string[] } | { ok: false; status: number; message: string };

const GO_STRUCT_TYPE = 'struct { PeerURLs []string "json:\\"peerURLs\\"" }';

/** Go's name for the JSON kind of a decoded value, as encoding/json's UnmarshalTypeError prints it. */
function goKind(value: unknown): string {
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'bool';
  return typeof value === 'object' ? 'object' : typeof value;
}

/** Go's quoteChar for the character named in a syntax error. */
function quoteChar(c: string): string {
  if (c === "'") return "'\\''";
  if (c === '"') return '\'"\'';
  const quoted = JSON.stringify(c);
  return `'${quoted.slice(1, -1)}'`;
}

/**
 * Go's message for the JSON syntax errors clients actually make: an empty or cut-off body, a body that is not
 * JSON from its first character, and trailing bytes after a value. Other syntax errors keep the JavaScript
 * parser's text (docs/COMPATIBILITY.md).
 */
function goSyntaxError(text: string, err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const trimmed = text.trimStart();
  if (trimmed === '' || /Unexpected end of JSON input/.test(message)) return 'unexpected end of JSON input';
  const after = /after JSON at position (\d+)/.exec(message);
  if (after !== null) return `invalid character ${quoteChar(text.charAt(Number(after[1])))} after top-level value`;
  const first = trimmed.charAt(0);
  if (!/[[{"\-0-9tfn]/.test(first)) return `invalid character ${quoteChar(first)} looking for beginning of value`;
  return message;
}

/** encoding/json into `struct { PeerURLs []string \`json:"peerURLs"\` }`: field names match case-insensitively. */
function decodePeerUrls(value: unknown): { ok: true; urls: string[] } | { ok: false; message: string } {
  if (value === null) return { ok: true, urls: [] };
  if (typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, message: `json: cannot unmarshal ${goKind(value)} into Go value of type ${GO_STRUCT_TYPE}` };
  }
  let urls: string[] = [];
  let firstError: string | null = null;
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    if (key.toLowerCase() !== 'peerurls') continue;
    if (field === null) {
      urls = [];
    } else if (!Array.isArray(field)) {
      firstError ??= `json: cannot unmarshal ${goKind(field)} into Go struct field .peerURLs of type []string`;
    } else {
      urls = field.map((item) => {
        if (typeof item === 'string') return item;
        if (item !== null) firstError ??= `json: cannot unmarshal ${goKind(item)} into Go struct field .peerURLs of type string`;
        return '';
      });
    }
  }
  return firstError === null ? { ok: true, urls } : { ok: false, message: firstError };
}

/** net.SplitHostPort's acceptance: host:port, [v6]:port; the port may be empty. */
function splitsHostPort(host: string): boolean {
  if (host.startsWith('[')) return /^\[[^\]]*\]:[^:]*$/.test(host);
  return (host.match(/:/g) ?? []).length === 1;
}

/** etcd's types.NewURLs: every URL http(s)/unix(s), host:port, no path; returned sorted. */
export function checkPeerUrls(inputs: string[]): { ok: true; urls: string[] } | { ok: false; message: string } {
  if (inputs.length === 0) return { ok: false, message: 'no valid URLs given' };
  const out: string[] = [];
  for (const raw of inputs) {
    const text = raw.trim();
    if (/[\x00-\x1f\x7f]/.test(text)) return { ok: false, message: `parse ${JSON.stringify(text)}: net/url: invalid control character in URL` };
    if (text.startsWith(':')) return { ok: false, message: `parse ${JSON.stringify(text)}: missing protocol scheme` };
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text);
    const name = scheme === null ? '' : scheme[1]!.toLowerCase();
    if (!['http', 'https', 'unix', 'unixs'].includes(name)) return { ok: false, message: `URL scheme must be http, https, unix, or unixs: ${text}` };
    const rest = text.slice(scheme![0].length);
    const authority = rest.startsWith('//') ? /^\/\/([^/?#]*)/.exec(rest)![1]! : '';
    const hostPort = authority.slice(authority.lastIndexOf('@') + 1);
    if (!splitsHostPort(hostPort)) return { ok: false, message: `URL address does not have the form "host:port": ${text}` };
    const path = (rest.startsWith('//') ? rest.slice(2 + authority.length) : rest).replace(/[?#].*$/s, '');
    if (path !== '') return { ok: false, message: `URL must not contain a path: ${text}` };
    out.push(name + text.slice(name.length));
  }
  return { ok: true, urls: out.sort() };
}

/** A member-add body: 415 for a content type other than JSON, 400 with etcd's message for anything unusable. */
export function memberCreateRequest(contentTypeHeader: string | undefined, body: Uint8Array): MemberCreateRequest {
  let contentType = contentTypeHeader ?? '';
  // etcd lower-cases and trims the media type only when parameters follow it.
  const semicolon = contentType.indexOf(';');
  if (semicolon !== -1) contentType = contentType.slice(0, semicolon).trim().toLowerCase();
  if (contentType !== 'application/json') return { ok: false, status: 415, message: `Bad Content-Type ${contentType}, accept application/json` };
  const text = new TextDecoder().decode(body);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, status: 400, message: goSyntaxError(text, err) };
  }
  const decoded = decodePeerUrls(value);
  if (!decoded.ok) return { ok: false, status: 400, message: decoded.message };
  const checked = checkPeerUrls(decoded.urls);
  return checked.ok ? { ok: true, urls: checked.urls } : { ok: false, status: 400, message: checked.message };
}
