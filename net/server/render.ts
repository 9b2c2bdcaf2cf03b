// JSON bodies of the endpoints around the keys API (/v2/members, /v2/stats/self, /v2/stats/leader, /version,
// /health), in etcd 3.4's field order. Pure text rendering; the member supplies the numbers.
import { goJsonString } from '../../core/api/json.ts';
import { formatRfc3339Nano } from '../../core/kv/time.ts';
import type { MemberInfo } from '../../core/replica/index.ts';
import type { PeerStats } from '../transport/index.ts';

/** The etcd release whose v2 API raftsim serves (clients that check /version see this). */
export const ETCD_API_VERSION = '3.4.23';
export const ETCD_CLUSTER_VERSION = '3.4.0';

export function memberJson(m: MemberInfo): string {
  return JSON.stringify({ id: m.id, name: m.name, peerURLs: m.peerURLs, clientURLs: m.clientURLs });
}

export function membersJson(members: MemberInfo[]): string {
  return `{"members":[${members.map(memberJson).join(',')}]}\n`;
}

/** etcd's HTTP error body for the members and stats endpoints (json.Marshal: no trailing newline). */
export function messageJson(message: string): string {
  return `{"message":${goJsonString(message)}}`;
}

/** A duration as Go's time.Duration.String prints it (e.g. 1h2m3.5s, 250ms), for leaderInfo.uptime. */
export function goDuration(ms: number): string {
  if (ms <= 0) return '0s';
  const ns = Math.round(ms * 1e6);
  if (ns < 1000) return `${ns}ns`;
  if (ns < 1e6) return `${trimFraction(ns / 1e3)}µs`;
  if (ns < 1e9) return `${trimFraction(ns / 1e6)}ms`;
  let rest = ns / 1e9;
  const hours = Math.floor(rest / 3600);
  rest -= hours * 3600;
  const minutes = Math.floor(rest / 60);
  rest -= minutes * 60;
  let out = '';
  if (hours > 0) out += `${hours}h`;
  if (hours > 0 || minutes > 0) out += `${minutes}m`;
  return out + `${trimFraction(rest)}s`;
}

function trimFraction(x: number): string {
  return x.toFixed(9).replace(/\.?0+$/, '');
}

const ROLE_NAMES: Record<string, string> = {
  leader: 'StateLeader',
  follower: 'StateFollower',
  candidate: 'StateCandidate',
  'pre-candidate': 'StateCandidate',
};

export interface SelfStatsInput {
  name: string;
  id: string;
  role: string;
  startTimeMs: number;
  leader: string | null;
  leaderSinceMs: number;
  nowMs: number;
  recvAppendRequestCnt: number;
  sendAppendRequestCnt: number;
}

/** /v2/stats/self (json.Marshal, so no trailing newline, as for every stats body). etcd leaves out the package and bandwidth rates when they are zero; raftsim does not
 * measure them, so they are always left out. */
export function selfStatsJson(s: SelfStatsInput): string {
  const body = {
    name: s.name,
    id: s.id,
    state: ROLE_NAMES[s.role] ?? 'StateFollower',
    startTime: formatRfc3339Nano(s.startTimeMs),
    leaderInfo: {
      leader: s.leader ?? '',
      uptime: goDuration(s.nowMs - s.leaderSinceMs),
      startTime: formatRfc3339Nano(s.leaderSinceMs),
    },
    recvAppendRequestCnt: s.recvAppendRequestCnt,
    sendAppendRequestCnt: s.sendAppendRequestCnt,
  };
  return JSON.stringify(body);
}

/** /v2/stats/leader: per follower, round-trip latency (ms) on the peer link and message counts. A message
 * that could not be delivered (queue overflow, lost connection, failed dial) counts as a failure. */
export function leaderStatsJson(leaderId: string, followers: Record<string, PeerStats | undefined>): string {
  const out: Record<string, unknown> = {};
  for (const id of Object.keys(followers).sort()) {
    const s = followers[id];
    const rt = s?.roundTrip ?? null;
    out[id] = {
      latency: {
        current: rt?.lastMs ?? 0,
        average: rt?.meanMs ?? 0,
        standardDeviation: rt?.stddevMs ?? 0,
        minimum: rt?.minMs ?? 0,
        maximum: rt?.maxMs ?? 0,
      },
      counts: { fail: (s?.dropped ?? 0) + (s?.connectionFailures ?? 0), success: s?.sent ?? 0 },
    };
  }
  return JSON.stringify({ leader: leaderId, followers: out });
}

export function versionJson(): string {
  return JSON.stringify({ etcdserver: ETCD_API_VERSION, etcdcluster: ETCD_CLUSTER_VERSION });
}
