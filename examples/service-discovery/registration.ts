// Keeping one instance registered under `<prefix>/<service>/<instance>` with a TTL: the scheme shared by
// self-registration (register.ts) and third-party registration (registrar.ts).
//
// The key is written once with its value and a TTL, then refreshed every second with
// `refresh=true&prevExist=true&ttl=N` and no value. A refresh extends the TTL without producing a watch event,
// so watchers (render-upstream.ts) wake only for real changes. If the key vanished (it expired while etcd
// was unreachable, or someone deleted it) the refresh fails with "key not found" and the key is written again.
// If the instance dies without deregistering, nobody refreshes and etcd expires the key after the TTL.
import { sleep, type Logger } from './cli.ts';
import { EndpointsUnavailableError, EtcdError, EtcdErrorCode, type V2Client } from './v2client.ts';

export interface InstanceAddress {
  host: string;
  port: number;
}

/** The value stored for an instance; JSON so that more fields can be added without breaking readers. */
export function encodeAddress(address: InstanceAddress): string {
  return JSON.stringify({ host: address.host, port: address.port });
}

export function instanceKey(prefix: string, service: string, instance: string): string {
  return `${prefix}/${service}/${instance}`;
}

export type TickOutcome = 'registered' | 'refreshed' | 'recreated' | 'rewritten' | 'unavailable';

export interface RegistrationOptions {
  client: V2Client;
  key: string;
  value: string;
  ttlSeconds: number;
  log: Logger;
}

export class Registration {
  /** Whether this process believes the key is in etcd (it may have expired meanwhile; a refresh finds out). */
  private written = false;

  constructor(private readonly options: RegistrationOptions) {}

  get key(): string {
    return this.options.key;
  }

  /** One step of keeping the key alive: write it if not yet written, else refresh it. Never throws for outages. */
  async tick(): Promise<TickOutcome> {
    const { client, key, value, ttlSeconds, log } = this.options;
    try {
      if (!this.written) {
        const reply = await client.set(key, { value, ttl: ttlSeconds });
        this.written = true;
        log('registered', { key, index: reply.node.modifiedIndex, endpoint: reply.endpoint });
        return 'registered';
      }
      let reply;
      try {
        reply = await client.set(key, { ttl: ttlSeconds, refresh: true, prevExist: true });
      } catch (err) {
        if (!(err instanceof EtcdError && err.errorCode === EtcdErrorCode.KeyNotFound)) throw err;
        const recreated = await client.set(key, { value, ttl: ttlSeconds });
        log('recreated', { key, index: recreated.node.modifiedIndex, endpoint: recreated.endpoint });
        return 'recreated';
      }
      if (reply.node.value !== value) {
        // Someone overwrote our registration with another address; ours is the truth while we are alive.
        const rewritten = await client.set(key, { value, ttl: ttlSeconds });
        log('rewritten', { key, was: reply.node.value ?? null, index: rewritten.node.modifiedIndex });
        return 'rewritten';
      }
      log('refreshed', { key, index: reply.node.modifiedIndex, endpoint: reply.endpoint });
      return 'refreshed';
    } catch (err) {
      if (err instanceof EndpointsUnavailableError) {
        log('unavailable', { key, reason: err.message });
        return 'unavailable';
      }
      throw err;
    }
  }

  /**
   * Removes the key, but only if it still holds our value: a replacement instance that reused the key must
   * not be deregistered by the old one's shutdown. Returns whether a key was deleted.
   */
  async deregister(): Promise<boolean> {
    const { client, key, value, log } = this.options;
    this.written = false;
    try {
      const reply = await client.delete(key, { prevValue: value });
      log('deregistered', { key, index: reply.node.modifiedIndex });
      return true;
    } catch (err) {
      if (err instanceof EtcdError && (err.errorCode === EtcdErrorCode.KeyNotFound || err.errorCode === EtcdErrorCode.TestFailed)) {
        log('deregister-skipped', { key, reason: err.etcdMessage });
        return false;
      }
      if (err instanceof EndpointsUnavailableError) {
        log('unavailable', { key, reason: err.message });
        return false;
      }
      throw err;
    }
  }
}

/**
 * Calls `step` every `periodMs` until `signal` aborts. Ticks are spaced from their start times, and a tick
 * that overran is not followed by a burst of catch-up ticks: a late refresh followed by another is worth no
 * more than one.
 */
export async function every(periodMs: number, signal: AbortSignal, step: () => Promise<void>): Promise<void> {
  while (!signal.aborted) {
    const started = Date.now();
    await step();
    const wait = periodMs - (Date.now() - started);
    if (signal.aborted) break;
    await sleep(Math.max(0, wait), signal);
  }
}
