// The differential conformance comparison: what a real etcd and a raftsim member answered to the same request,
// case by case, and which of the differences docs/COMPATIBILITY.md lists. Pure functions over two recordings
// (test/fixtures/etcd-v2/record.ts) so the rules are readable apart from the sockets.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RecordedCase } from '../../fixtures/etcd-v2/cases.ts';
import type { RawResponse } from '../../fixtures/etcd-v2/normalize.ts';
import type { Recording } from '../../fixtures/etcd-v2/record.ts';

export interface Difference {
  caseId: string;
  /** status, a normalized header's value, the body text, or a header present on one side only. */
  kind: 'status' | 'header-value' | 'body' | 'header-presence';
  /** The header's name for header kinds. */
  header?: string;
  etcd: string;
  raftsim: string;
}

/** Headers every reply has whatever the server (Date varies by nature). */
const IGNORED_HEADERS = new Set(['date']);

function headerNames(raw: RawResponse | null): Set<string> {
  return new Set(Object.keys(raw?.headers ?? {}).filter((h) => !IGNORED_HEADERS.has(h)));
}

/** Compares one case: normalized status, kept headers and body bytes, then which headers each side sent. */
export function compareCase(etcd: RecordedCase, etcdRaw: RawResponse | null, raftsim: RecordedCase, raftsimRaw: RawResponse | null): Difference[] {
  const out: Difference[] = [];
  const id = etcd.id;
  if (etcd.detach) return out; // checked at its collect case
  const a = etcd.response;
  const b = raftsim.response;
  if (a.status !== b.status) out.push({ caseId: id, kind: 'status', etcd: String(a.status), raftsim: String(b.status) });
  for (const name of new Set([...Object.keys(a.headers), ...Object.keys(b.headers)])) {
    if (a.headers[name] !== b.headers[name]) out.push({ caseId: id, kind: 'header-value', header: name, etcd: a.headers[name] ?? '(none)', raftsim: b.headers[name] ?? '(none)' });
  }
  if (a.bodyText !== b.bodyText) out.push({ caseId: id, kind: 'body', etcd: a.bodyText, raftsim: b.bodyText });
  const namesA = headerNames(etcdRaw);
  const namesB = headerNames(raftsimRaw);
  for (const name of namesA) if (!namesB.has(name)) out.push({ caseId: id, kind: 'header-presence', header: name, etcd: 'sent', raftsim: 'absent' });
  for (const name of namesB) if (!namesA.has(name)) out.push({ caseId: id, kind: 'header-presence', header: name, etcd: 'absent', raftsim: 'sent' });
  return out;
}

export function compareRecordings(etcd: Recording, raftsim: Recording): Difference[] {
  if (etcd.cases.length !== raftsim.cases.length) throw new Error(`recordings differ in length: ${etcd.cases.length} vs ${raftsim.cases.length}`);
  return etcd.cases.flatMap((c, i) => compareCase(c, etcd.raw[i] ?? null, raftsim.cases[i]!, raftsim.raw[i] ?? null));
}

/**
 * Each difference docs/COMPATIBILITY.md lists, by the id it carries there, with the test of whether a difference
 * is that one. A difference no entry accepts is a bug; an entry whose id the document does not list accepts
 * nothing.
 */
export const LISTED_DIFFERENCES: Record<string, (d: Difference) => boolean> = {
  // node:http frames every complete reply with Content-Length; Go chunks replies over 2 KiB and flushed ones.
  framing: (d) => d.kind === 'header-presence' && (d.header === 'content-length' || d.header === 'transfer-encoding'),
  // node:http names the connection's keep-alive and its idle timeout; Go says nothing on a kept-alive HTTP/1.1 one.
  'keep-alive-headers': (d) => d.kind === 'header-presence' && d.etcd === 'absent' && (d.header === 'connection' || d.header === 'keep-alive'),
  // Indexes are JavaScript numbers: a prevIndex past 2^53 compares the same but prints rounded in the 101 cause.
  'previndex-past-2-53': (d) => d.kind === 'body' && d.caseId.startsWith('previndex-past-2-53'),
  // A live TTL read a few milliseconds from a second boundary: the two servers see the request at slightly
  // different times after the key was set, so the whole seconds left differ by one.
  'ttl-second-boundary': (d) => d.kind === 'body' && ttlsWithinOneSecond(d.etcd, d.raftsim),
};

/** The two bodies are the same but for `"ttl":N` values, and those differ by at most one. */
export function ttlsWithinOneSecond(a: string, b: string): boolean {
  const ttl = /"ttl":(-?\d+)/g;
  const ta = [...a.matchAll(ttl)].map((m) => Number(m[1]));
  const tb = [...b.matchAll(ttl)].map((m) => Number(m[1]));
  if (ta.length === 0 || ta.length !== tb.length) return false;
  if (a.replace(ttl, '"ttl":_') !== b.replace(ttl, '"ttl":_')) return false;
  return ta.every((x, i) => Math.abs(x - tb[i]!) <= 1);
}

const COMPATIBILITY_DOC = fileURLToPath(new URL('../../../docs/COMPATIBILITY.md', import.meta.url));

/** The ids the document lists: backquoted first cells of its table of differences (`| \`framing\` | ...`). */
export function listedIds(markdown: string = readFileSync(COMPATIBILITY_DOC, 'utf8')): Set<string> {
  return new Set([...markdown.matchAll(/^\|\s*`([a-z0-9-]+)`\s*\|/gm)].map((m) => m[1]!));
}

/** Splits differences into those the document lists (by id) and the rest. */
export function classify(differences: Difference[], listed: Set<string>): { accepted: Map<string, Difference[]>; unlisted: Difference[] } {
  const accepted = new Map<string, Difference[]>();
  const unlisted: Difference[] = [];
  for (const d of differences) {
    const id = Object.keys(LISTED_DIFFERENCES).find((key) => listed.has(key) && LISTED_DIFFERENCES[key]!(d));
    if (id === undefined) unlisted.push(d);
    else accepted.set(id, [...(accepted.get(id) ?? []), d]);
  }
  return { accepted, unlisted };
}

export function describeDifference(d: Difference): string {
  const cut = (s: string) => (s.length > 300 ? `${s.slice(0, 300)}…` : s).replace(/\n/g, '\\n');
  return `${d.caseId}: ${d.kind}${d.header === undefined ? '' : ` ${d.header}`}\n    etcd    ${cut(d.etcd)}\n    raftsim ${cut(d.raftsim)}`;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * The shape of a JSON value: objects keep their key order, leaves become their type, arrays the shape of their
 * first element, and maps keyed by member ids (16 hex digits) one `<id>` entry, so two clusters with different
 * ids and sizes compare.
 */
export function jsonShape(value: Json): Json {
  if (Array.isArray(value)) return value.length === 0 ? [] : [jsonShape(value[0]!)];
  if (value === null || typeof value !== 'object') return value === null ? 'null' : typeof value;
  const keys = Object.keys(value);
  if (keys.length > 0 && keys.every((k) => /^[0-9a-f]{1,16}$/.test(k))) return { '<id>': jsonShape(value[keys[0]!]!) };
  return Object.fromEntries(keys.map((k) => [k, jsonShape(value[k]!)]));
}
