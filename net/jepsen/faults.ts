// Faults on real processes: the simulator's nemesis schedule (sim/world/nemesis.ts, crash and pause families
// only) played in real time against members this process started. A crash is SIGKILL, its recovery a restart
// on the same data dir; a pause is SIGSTOP, its recovery SIGCONT. Nothing is ever sent to a process that this
// process did not spawn: the target is a LocalCluster, which only knows its own children.
import type { LocalCluster } from '../cluster.ts';
import { generateNemesis, type NemesisEvent } from '../../sim/world/nemesis.ts';
import { RandomStreams } from '../../sim/world/random.ts';

export type FaultKind = 'kill' | 'restart' | 'pause' | 'resume';

/** One fault that ran: when (ms since the run began), what and on which member. */
export interface FaultRecord {
  atMs: number;
  kind: FaultKind;
  member: string;
}

export interface FaultPlanOptions {
  members: readonly string[];
  seed: number;
  kill: boolean;
  pause: boolean;
  /** Faults start at or after this time and are all undone by endMs. */
  startMs: number;
  endMs: number;
  meanGapMs: number;
  meanFaultMs: number;
}

/** The schedule, a function of the seed and these options alone (the same seed gives the same faults). */
export function planFaults(o: FaultPlanOptions): NemesisEvent[] {
  if (!o.kill && !o.pause) return [];
  return generateNemesis(new RandomStreams(o.seed).stream('nemesis'), {
    nodes: o.members,
    startMs: o.startMs,
    endMs: o.endMs,
    meanGapMs: o.meanGapMs,
    meanFaultMs: o.meanFaultMs,
    weights: { crash: o.kill ? 1 : 0, pause: o.pause ? 1 : 0 },
  });
}

type MemberState = 'running' | 'paused' | 'down';

/** Plays a schedule against a LocalCluster; `heal` undoes whatever is still in force. */
export class FaultRunner {
  readonly done: FaultRecord[] = [];
  private readonly state = new Map<string, MemberState>();
  private readonly timers: NodeJS.Timeout[] = [];
  private chain: Promise<void> = Promise.resolve();
  /** First error a fault action hit (e.g. a member that cannot be restarted). */
  failure: unknown = null;

  constructor(
    private readonly cluster: LocalCluster,
    /** Milliseconds since the run began (the clients' clock, so faults and operations share one time line). */
    private readonly now: () => number,
    /** Hears each fault as it runs. */
    private readonly onFault: (f: FaultRecord) => void = () => {},
  ) {
    for (const m of cluster.members) this.state.set(m.name, m.process === null ? 'down' : 'running');
  }

  start(schedule: readonly NemesisEvent[]): void {
    for (const e of schedule) {
      const delay = Math.max(0, e.atMs - this.now());
      // Actions run one after another, in schedule order, even when a kill takes a while to be reaped.
      this.timers.push(setTimeout(() => this.enqueue(() => this.apply(e)), delay));
    }
  }

  private enqueue(action: () => Promise<void>): Promise<void> {
    this.chain = this.chain.then(action).catch((err: unknown) => {
      this.failure ??= err;
    });
    return this.chain;
  }

  private async apply(e: NemesisEvent): Promise<void> {
    if (e.kind !== 'crash' && e.kind !== 'restart' && e.kind !== 'pause' && e.kind !== 'resume') return;
    const member = e.node;
    const state = this.state.get(member);
    // Overlapping faults on one member: act only when the action changes something.
    if (e.kind === 'crash' && state !== 'down') {
      this.record('kill', member);
      this.state.set(member, 'down');
      await this.cluster.stopMember(member, 'SIGKILL');
    } else if (e.kind === 'restart' && state === 'down') {
      this.record('restart', member);
      this.cluster.startMember(member);
      this.state.set(member, 'running');
    } else if (e.kind === 'pause' && state === 'running') {
      if (this.cluster.signalMember(member, 'SIGSTOP')) {
        this.record('pause', member);
        this.state.set(member, 'paused');
      }
    } else if (e.kind === 'resume' && state === 'paused') {
      this.record('resume', member);
      this.cluster.signalMember(member, 'SIGCONT');
      this.state.set(member, 'running');
    }
  }

  private record(kind: FaultKind, member: string): void {
    const f = { atMs: this.now(), kind, member };
    this.done.push(f);
    this.onFault(f);
  }

  /** Cancels what has not run yet, then resumes paused members and restarts killed ones. */
  heal(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.length = 0;
    return this.enqueue(async () => {
      for (const [member, state] of this.state) {
        if (state === 'paused') await this.apply({ atMs: 0, kind: 'resume', node: member });
        else if (state === 'down') await this.apply({ atMs: 0, kind: 'restart', node: member });
      }
    });
  }

  /** Counts per kind, e.g. { kill: 3, restart: 3 }. */
  counts(): Record<FaultKind, number> {
    const c: Record<FaultKind, number> = { kill: 0, restart: 0, pause: 0, resume: 0 };
    for (const f of this.done) c[f.kind]++;
    return c;
  }
}
