// Differential conformance: a real etcd 3.4 (single member, v2 enabled) and two 3-member raftsim clusters get
// the same requests, the etcd v2 fixture's script (test/fixtures/etcd-v2/cases.ts: keys, watches, TTLs, the
// 1000-event window, malformed paths, forms, TTLs and indexes) plus a few requests too large to keep in the
// fixture. One raftsim cluster is driven through its leader, the other through a follower (writes forwarded,
// reads and watches served by the follower). Every difference in status, kept headers, body bytes or the set of
// headers sent is a failure unless docs/COMPATIBILITY.md lists it (differential.ts binds the two). The
// endpoints around the keys API (/version, /health, /v2/machines, /v2/members, /v2/stats/*) are compared byte
// for byte where nothing cluster-specific is in the reply, and by JSON shape where ids, names and times are.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalCluster } from '../../../net/cluster.ts';
import { conformanceCases, type ConformanceCase, type HttpMethod } from '../../fixtures/etcd-v2/cases.ts';
import { recordLockstep, type Recording } from '../../fixtures/etcd-v2/record.ts';
import { findEtcdBinary, startEtcd, type EtcdServer } from '../../support/etcd.ts';
import { classify, compareRecordings, describeDifference, jsonShape, LISTED_DIFFERENCES, listedIds, ttlsWithinOneSecond, type Difference } from './differential.ts';
import { http, leaderOf, startTestCluster, stopAllClusters, type HttpReply } from './helpers.ts';

const etcdBin = findEtcdBinary();
if (etcdBin === null) console.warn('skipping the differential test: no etcd binary (apt-get install etcd-server or set ETCD_BIN)');

/** Go's form limit (10 MiB): etcd v2 takes a body of exactly this size and refuses one byte more. */
const FORM_LIMIT = 10 << 20;

function extraCase(id: string, expect: string, note: string, method: HttpMethod, path: string, query: string, body: string): ConformanceCase {
  const last = conformanceCases[conformanceCases.length - 1]!;
  return {
    id,
    note,
    atMs: last.atMs,
    detach: false,
    collect: null,
    request: { method, path, query, body, contentType: body === '' ? null : 'application/x-www-form-urlencoded' },
    expect,
  };
}

/** Requests whose replies are too large for the committed fixture, and one whose difference is listed. */
const DIFFERENTIAL_ONLY: ConformanceCase[] = [
  extraCase('oversized-value-at-form-limit', '201 set', 'a body of exactly 10 MiB is accepted', 'PUT', '/v2/keys/oversized', '', `value=${'v'.repeat(FORM_LIMIT - 6)}`),
  extraCase('oversized-value-past-form-limit', '400 e210', 'one byte more is refused', 'PUT', '/v2/keys/oversized', '', `value=${'v'.repeat(FORM_LIMIT - 5)}`),
  extraCase('oversized-value-get', '200 get', 'the 10 MiB value reads back whole', 'GET', '/v2/keys/oversized', '', ''),
  extraCase('oversized-value-delete', '200 delete', 'and deletes', 'DELETE', '/v2/keys/oversized', 'noValueOnSuccess=true', ''),
  // The escaped name keeps the recorder from shifting the index by the base (which would overflow it).
  extraCase('previndex-past-2-53', '412 e101', 'the largest uint64 prevIndex never matches; etcd prints it in the cause', 'PUT', '/v2/keys/foo', 'prev%49ndex=18446744073709551615', 'value=x'),
];

const SCRIPT = [...conformanceCases, ...DIFFERENTIAL_ONLY];

/**
 * The groups of the script sent through a follower (the group is an id's first word). Each starts with a write,
 * which the follower forwards and answers once it has applied it, so the follower's reads and watches that follow
 * see everything before them (a read sent to a follower right after a write through the leader could be stale,
 * as in etcd); 'hostile' and 'previndex' continue a follower stretch instead. Going back to the leader is always
 * safe: the leader applies before any follower. Wrapped TTLs and a uint64 prevIndex are forwarded this way too;
 * the 10 MiB bodies go to the leader, where they cost one hop less on a loaded machine.
 */
const THROUGH_FOLLOWER = new Set(['cas', 'cad', 'dir', 'inorder', 'hidden', 'ttl', 'ttl2', 'hostile', 'previndex']);
const groupOf = (c: ConformanceCase) => c.id.split('-')[0]!;

let etcd: EtcdServer;
let cluster: LocalCluster;
let leaderName = '';
let leaderUrl = '';
let followerUrl = '';
const recordings: { etcd?: Recording; raftsim?: Recording } = {};

function portOf(url: string): number {
  return Number(new URL(url).port);
}

describe.skipIf(etcdBin === null)('differential conformance against etcd 3.4', () => {
  beforeAll(async () => {
    // Default Raft timing: the script's TTL phases need a stable leader more than a fast election.
    [etcd, cluster] = await Promise.all([startEtcd({ name: 'differential' }), startTestCluster(3, { heartbeatIntervalMs: 100, electionTimeoutMs: 1000 })]);
    leaderName = await leaderOf(cluster);
    leaderUrl = cluster.member(leaderName).clientUrl;
    followerUrl = cluster.members.find((m) => m.name !== leaderName)!.clientUrl;
    const raftsim = { clientPort: portOf(leaderUrl), portFor: (c: ConformanceCase) => portOf(THROUGH_FOLLOWER.has(groupOf(c)) ? followerUrl : leaderUrl) };
    // In lockstep, so both see one schedule; a slow machine stretches the untimed stretches, not the TTLs.
    [recordings.etcd, recordings.raftsim] = await recordLockstep([etcd, raftsim], SCRIPT, { shiftLatePhases: true });
  });

  afterAll(async () => {
    await Promise.all([etcd?.stop(), stopAllClusters()]);
  });

  it('etcd answered the script as the fixture expects (the oracle itself is sane)', () => {
    expect(recordings.etcd!.mismatches).toEqual([]);
    expect(SCRIPT.filter((c) => c.collect === null).length).toBeGreaterThanOrEqual(150);
  });

  it('every case of the docs/COMPATIBILITY.md table is one the comparison knows, and the other way round', () => {
    expect([...listedIds()].sort()).toEqual(Object.keys(LISTED_DIFFERENCES).sort());
  });

  it('every difference from etcd, through the leader and through a follower, is one docs/COMPATIBILITY.md lists', async () => {
    const differences = compareRecordings(recordings.etcd!, recordings.raftsim!);
    const { accepted, unlisted } = classify(differences, listedIds());
    const requests = SCRIPT.filter((c) => c.collect === null);
    const viaFollower = requests.filter((c) => THROUGH_FOLLOWER.has(groupOf(c))).length;
    console.log(JSON.stringify({ differential: 'etcd 3.4.23 vs raftsim (3 members)', requests: requests.length, viaFollower, differences: differences.length, listed: Object.fromEntries([...accepted].map(([k, v]) => [k, v.length])), unlisted: unlisted.length }));
    // A leader change during the run would make a leader-routed read possibly stale: say so if it happened.
    const stillLeader = await leaderOf(cluster);
    expect(unlisted.slice(0, 15).map(describeDifference).join('\n'), `${unlisted.length} unlisted differences (leader ${leaderName} before, ${stillLeader} after)`).toBe('');
    expect(recordings.raftsim!.mismatches).toEqual([]);
    expect(viaFollower).toBeGreaterThanOrEqual(100);
  });

  it('a listed difference is still a real one: the prevIndex past 2^53 differs only in the digits of its cause', () => {
    const differences = compareRecordings(recordings.etcd!, recordings.raftsim!).filter((d) => d.caseId === 'previndex-past-2-53' && d.kind !== 'header-presence');
    expect(differences.map((d) => d.kind)).toEqual(['body']);
    // 2^64-1 less etcd's base index (the normalization makes indexes relative, exactly).
    expect(differences[0]!.etcd).toMatch(/\[1844674407370955161\d != /);
    expect(differences[0]!.raftsim).toContain('[18446744073709552000 != ');
  });

  it('the comparison catches differences: a changed body, status or header is unlisted', () => {
    const etcdRec = recordings.etcd!;
    const tampered: Recording = {
      ...etcdRec,
      cases: etcdRec.cases.map((c) => (c.id === 'set-basic' ? { ...c, response: { ...c.response, status: 200, bodyText: c.response.bodyText.replace('"bar"', '"baz"') } } : c)),
      raw: etcdRec.raw.map((r, i) => (etcdRec.cases[i]!.id === 'set-basic-get' && r !== null ? { ...r, headers: Object.fromEntries(Object.entries(r.headers).filter(([h]) => h !== 'x-raft-term')) } : r)),
    };
    const { unlisted } = classify(compareRecordings(etcdRec, tampered), listedIds());
    const kinds = (d: Difference) => `${d.caseId}:${d.kind}${d.header === undefined ? '' : `:${d.header}`}`;
    expect(unlisted.map(kinds).sort()).toEqual(['set-basic-get:header-presence:x-raft-term', 'set-basic:body', 'set-basic:status']);
  });

  it('a TTL one second apart is the only timing difference it lets pass', () => {
    const body = (ttl: number, value = 'x') => `{"action":"get","node":{"key":"/ttl/a","value":"${value}","ttl":${ttl},"modifiedIndex":94}}`;
    expect(ttlsWithinOneSecond(body(1), body(2))).toBe(true);
    expect(ttlsWithinOneSecond(body(2), body(2))).toBe(true);
    expect(ttlsWithinOneSecond(body(1), body(3))).toBe(false);
    expect(ttlsWithinOneSecond(body(1), body(2, 'y'))).toBe(false);
    expect(ttlsWithinOneSecond('{"action":"get"}', '{"action":"set"}')).toBe(false);
  });

  // ------------------------------------------------------------------------------------ around the keys API

  interface EndpointRequest {
    method: string;
    path: string;
    body?: string;
    contentType?: string;
  }

  const json = (body: string): EndpointRequest => ({ method: 'POST', path: '/v2/members', body, contentType: 'application/json' });

  /** Replies with nothing cluster-specific in them: compared byte for byte. */
  const EXACT: EndpointRequest[] = [
    { method: 'GET', path: '/version' },
    { method: 'HEAD', path: '/version' },
    { method: 'GET', path: '/health' },
    { method: 'POST', path: '/health' },
    { method: 'PUT', path: '/v2/stats/self' },
    { method: 'HEAD', path: '/v2/stats/store' },
    { method: 'DELETE', path: '/v2/stats/leader' },
    { method: 'POST', path: '/v2/machines' },
    { method: 'OPTIONS', path: '/v2/members' },
    { method: 'HEAD', path: '/v2/members' },
    { method: 'PATCH', path: '/v2/members' },
    { method: 'PUT', path: '/v2/members' },
    { method: 'DELETE', path: '/v2/members' },
    { method: 'GET', path: '/v2/members/nope' },
    { method: 'DELETE', path: '/v2/members/zz' },
    { method: 'DELETE', path: '/v2/members/leader' },
    { method: 'DELETE', path: '/v2/members/00001234' },
    { method: 'GET', path: '/v2/membersx' },
    { method: 'GET', path: '/v2/stats/nothing' },
    { method: 'GET', path: '/metrics2' },
    { method: 'OPTIONS', path: '/version' },
    { method: 'OPTIONS', path: '/nowhere' },
    { method: 'POST', path: '/v2/members', body: 'peerURLs=http://a:1', contentType: 'application/x-www-form-urlencoded' },
    { method: 'POST', path: '/v2/members', body: '{}', contentType: 'Application/JSON' },
    { method: 'POST', path: '/v2/members', body: '{"peerURLs":"a"}', contentType: 'Application/JSON; charset=utf-8' },
    json(''),
    json('x'),
    json('{"peerURLs":["http://a:1"]} x'),
    json('{"peerURLs":"a"}'),
    json('{"peerURLs":[]}'),
    json('{"peerURLs":null}'),
    json('{"peerURLs":["nope"]}'),
    json('{"peerURLs":["ftp://a:1"]}'),
    json('{"peerURLs":["http://a"]}'),
    json('{"peerURLs":["http://a:1/p"]}'),
    json('{"PEERURLS":["http://a:1/p"]}'),
    json('{"peerURLs":[1]}'),
    json('{"peerURLs":[null]}'),
    json('[]'),
    json('null'),
    json('"x"'),
  ];

  /** Replies that name members, times and counts: compared by status, content type, headers and JSON shape. */
  const SHAPED = ['/v2/members', '/v2/members/leader', '/v2/stats/self', '/v2/stats/leader', '/v2/stats/store'];

  async function ask(base: string, r: EndpointRequest): Promise<HttpReply> {
    const headers: Record<string, string> = r.contentType === undefined ? {} : { 'content-type': r.contentType };
    return http(base + r.path, { method: r.method, ...(r.body === undefined ? {} : { body: r.body }), headers });
  }

  /** The header names a reply carries, less Date and the listed framing and keep-alive headers. */
  function headerSet(reply: HttpReply): string[] {
    const ignored = new Set(['date', 'content-length', 'transfer-encoding', 'connection', 'keep-alive']);
    return Object.keys(reply.headers).filter((h) => !ignored.has(h)).sort();
  }

  it(`answers ${EXACT.length} requests to /version, /health, /v2/machines, /v2/members and /v2/stats byte for byte as etcd`, async () => {
    const problems: string[] = [];
    for (const r of EXACT) {
      const [a, b] = [await ask(etcd.clientUrl, r), await ask(leaderUrl, r)];
      const what = `${r.method} ${r.path}${r.body === undefined ? '' : ` ${r.body}`}`;
      if (a.status !== b.status) problems.push(`${what}: status ${a.status} vs ${b.status}`);
      if (a.body !== b.body) problems.push(`${what}: body ${JSON.stringify(a.body)} vs ${JSON.stringify(b.body)}`);
      if (headerSet(a).join() !== headerSet(b).join()) problems.push(`${what}: headers ${headerSet(a).join()} vs ${headerSet(b).join()}`);
      for (const h of ['content-type', 'allow', 'access-control-allow-methods']) {
        if (a.headers[h] !== b.headers[h]) problems.push(`${what}: ${h} ${String(a.headers[h])} vs ${String(b.headers[h])}`);
      }
    }
    expect(problems.join('\n')).toBe('');
  });

  it('serves members, leader and stats in etcd’s shapes (ids, names, times and counts aside)', async () => {
    const problems: string[] = [];
    const leaderNow = cluster.member(await leaderOf(cluster)).clientUrl;
    for (const path of SHAPED) {
      const [a, b] = [await ask(etcd.clientUrl, { method: 'GET', path }), await ask(leaderNow, { method: 'GET', path })];
      if (a.status !== b.status) problems.push(`${path}: status ${a.status} vs ${b.status}`);
      if (headerSet(a).join() !== headerSet(b).join()) problems.push(`${path}: headers ${headerSet(a).join()} vs ${headerSet(b).join()}`);
      if (a.body.endsWith('\n') !== b.body.endsWith('\n')) problems.push(`${path}: trailing newline ${a.body.endsWith('\n')} vs ${b.body.endsWith('\n')}`);
      const [shapeA, shapeB] = [JSON.stringify(jsonShape(JSON.parse(a.body))), JSON.stringify(jsonShape(JSON.parse(b.body)))];
      // A single etcd has no followers; raftsim's leader has two, each in etcd's follower shape (checked below).
      if (path === '/v2/stats/leader') {
        if (shapeA !== '{"leader":"string","followers":{}}') problems.push(`${path}: etcd's shape changed: ${shapeA}`);
        if (shapeB !== '{"leader":"string","followers":{"<id>":{"latency":{"current":"number","average":"number","standardDeviation":"number","minimum":"number","maximum":"number"},"counts":{"fail":"number","success":"number"}}}}') problems.push(`${path}: ${shapeB}`);
      } else if (shapeA !== shapeB) problems.push(`${path}: shape ${shapeA} vs ${shapeB}`);
    }
    const [machinesA, machinesB] = [await ask(etcd.clientUrl, { method: 'GET', path: '/v2/machines' }), await ask(leaderUrl, { method: 'GET', path: '/v2/machines' })];
    const urlList = /^http:\/\/[^,\s]+(, http:\/\/[^,\s]+)*$/;
    if (!urlList.test(machinesA.body) || !urlList.test(machinesB.body)) problems.push(`/v2/machines: ${machinesA.body} vs ${machinesB.body}`);
    if (machinesA.headers['content-type'] !== machinesB.headers['content-type']) problems.push('/v2/machines: content type');
    expect(problems.join('\n')).toBe('');
  });

  it('a follower refuses /v2/stats/leader with etcd’s 403 and reports itself as StateFollower', async () => {
    const leaderNow = await leaderOf(cluster);
    const follower = cluster.members.find((m) => m.name !== leaderNow)!.clientUrl;
    const refused = await http(`${follower}/v2/stats/leader`);
    expect(refused.status).toBe(403);
    expect(refused.body).toBe('{"message":"not current leader"}');
    expect(JSON.parse((await http(`${follower}/v2/stats/self`)).body).state).toBe('StateFollower');
  });
});
