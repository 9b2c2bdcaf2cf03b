// The simulator's client pool in real time: the `ClientWorld` it drives (`now`, `at`, `input`) backed by the
// wall clock, timers and HTTP requests instead of the virtual world. A request goes to the endpoint of the
// member the pool chose; the pool's timeout cancels it (the HTTP request is aborted); the endpoint's answer comes
// back through the same `onReply` / `onRefused` the simulated replicas use.
import { performance } from 'node:perf_hooks';
import type { ClientWorld } from '../../sim/clients/pool.ts';
import type { DriverInput } from '../../sim/driver/replica-program.ts';
import type { ReplicaReply } from '../../core/replica/index.ts';
import type { V2HttpClient } from './http.ts';

/** The part of ClientPool that hears how requests ended. */
export interface ReplySink {
  onReply(token: number, reply: ReplicaReply, entry: null): unknown;
  onRefused(token: number): void;
}

export class RealTimeClientWorld implements ClientWorld {
  /** Set once the pool exists (the pool needs the world to be built). */
  sink: ReplySink | null = null;
  /** The first exception a callback threw (a recorder invariant, say): the run reports it instead of a verdict. */
  failure: unknown = null;
  private readonly origin = performance.now();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inflight = new Map<number, AbortController>();
  private closed = false;

  constructor(
    private readonly client: V2HttpClient,
    /** Member name -> endpoint base URL. */
    private readonly endpoints: ReadonlyMap<string, string>,
  ) {}

  /** Milliseconds since this world was made, to the microsecond. */
  get now(): number {
    return Math.round((performance.now() - this.origin) * 1000) / 1000;
  }

  /** Requests sent and not yet answered or cancelled. */
  get outstanding(): number {
    return this.inflight.size;
  }

  at(atMs: number, _label: string, fn: () => void): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.guard(fn);
    }, Math.max(0, atMs - this.now));
    this.timers.add(timer);
  }

  input(node: string, input: DriverInput): void {
    if (input.kind === 'cancel') {
      this.inflight.get(input.token)?.abort();
      this.inflight.delete(input.token);
      return;
    }
    // Membership changes are the simulator's nemesis; Jepsen mode's faults are process kills and pauses.
    if (input.kind !== 'request') throw new Error(`Jepsen mode sends only keys requests, not ${input.kind}`);
    const endpoint = this.endpoints.get(node);
    if (endpoint === undefined) throw new Error(`no endpoint for member ${node}`);
    const controller = new AbortController();
    const { token } = input;
    this.inflight.set(token, controller);
    void this.client.send(endpoint, input.request, { signal: controller.signal }).then((exchange) => {
      if (controller.signal.aborted || this.closed) return;
      this.inflight.delete(token);
      this.guard(() => {
        if (exchange.kind === 'refused') this.sink!.onRefused(token);
        else this.sink!.onReply(token, exchange.reply, null);
      });
    });
  }

  /** Stops every timer and aborts every request still out. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.inflight.values()) c.abort();
    this.inflight.clear();
  }

  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.failure ??= err;
    }
  }
}
