// A closed-loop HTTP/1.1 load generator for the network benchmarks: N workers, each with its own keep-alive
// connection, each sending its next request when the previous reply has arrived, until a request count or a
// deadline is reached. It speaks just enough HTTP (Content-Length and chunked replies) to frame a reply and read
// its status: node:http's client cost about a core at 25k requests/s, which on a 2-core machine starves the
// servers it measures, and this costs a fraction of that.
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface LoadRequest {
  method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  /** Path and query, already escaped. */
  path: string;
  /** Sent as application/x-www-form-urlencoded. */
  body?: string;
}

export interface LoadSpec {
  /** `http://host:port` of the server every connection goes to. */
  url: string;
  connections: number;
  /** Stop issuing requests after this many (bounded in count)... */
  maxRequests: number;
  /** ...or after this long (bounded in time), whichever comes first. */
  maxMs: number;
  /** The request with sequence number `i` (0, 1, 2, ... across all connections). */
  request(i: number): LoadRequest;
  /** A reply without an error (default: any 2xx status). */
  ok?(status: number): boolean;
  /** A request without a reply within this long is an error and its connection is replaced (default 10 s). */
  timeoutMs?: number;
}

export interface LoadResult {
  /** Requests answered without an error. */
  ok: number;
  /** Requests that failed: a status `ok` refused, a connection error, a malformed reply, a timeout. */
  errors: number;
  /** The first few error descriptions, for the operator. */
  errorSamples: string[];
  elapsedMs: number;
  /** ok / elapsed seconds. */
  perSec: number;
  /** Latency of the ok requests, in ms. */
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

const MAX_ERROR_SAMPLES = 5;
/** Reply heads longer than this are treated as malformed, so a broken server cannot grow our buffer forever. */
const MAX_HEAD_BYTES = 64 * 1024;

class ReplyFormatError extends Error {}

/** Incremental reply framer: feed bytes, get the status of each complete reply. */
class ReplyReader {
  private buffer: Buffer = Buffer.alloc(0);
  private status = 0;
  /** Bytes of body still to skip (Content-Length), or -1 while reading chunked framing, or null in the head. */
  private remaining: number | null = null;
  private chunked = false;

  /** Consumes `data`; returns the statuses of the replies it completed, in order. Throws on malformed replies. */
  feed(data: Buffer): number[] {
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    const done: number[] = [];
    for (;;) {
      if (this.remaining === null) {
        const end = this.buffer.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.buffer.length > MAX_HEAD_BYTES) throw new ReplyFormatError('reply head too long');
          return done;
        }
        this.readHead(this.buffer.toString('latin1', 0, end));
        this.buffer = this.buffer.subarray(end + 4);
      }
      if (this.chunked) {
        if (!this.skipChunks()) return done;
      } else {
        const take = Math.min(this.remaining!, this.buffer.length);
        this.buffer = this.buffer.subarray(take);
        this.remaining! -= take;
        if (this.remaining! > 0) return done;
      }
      done.push(this.status);
      this.remaining = null;
      this.chunked = false;
    }
  }

  private readHead(head: string): void {
    const lines = head.split('\r\n');
    const statusLine = /^HTTP\/1\.[01] (\d{3})(?: |$)/.exec(lines[0]!);
    if (statusLine === null) throw new ReplyFormatError(`bad status line ${JSON.stringify(lines[0]!.slice(0, 80))}`);
    this.status = Number(statusLine[1]);
    let length: number | null = null;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') length = Number(value);
      else if (name === 'transfer-encoding' && value.toLowerCase() === 'chunked') this.chunked = true;
    }
    if (this.chunked) this.remaining = -1;
    else if (length !== null && Number.isSafeInteger(length) && length >= 0) this.remaining = length;
    // 1xx, 204 and 304 carry no body; anything else must be framed, or the connection cannot be reused.
    else if ((this.status >= 100 && this.status < 200) || this.status === 204 || this.status === 304) this.remaining = 0;
    else throw new ReplyFormatError(`status ${this.status} reply without a length`);
  }

  /** Skips chunked framing; true once the last chunk and the trailer are consumed. */
  private skipChunks(): boolean {
    for (;;) {
      const lineEnd = this.buffer.indexOf('\r\n');
      if (lineEnd < 0) return false;
      const size = parseInt(this.buffer.toString('latin1', 0, lineEnd), 16);
      if (!Number.isSafeInteger(size) || size < 0) throw new ReplyFormatError('bad chunk size');
      if (size === 0) {
        // Trailer fields (none expected), then an empty line: the first blank line from here ends the reply.
        const end = this.buffer.indexOf('\r\n\r\n', lineEnd);
        if (end < 0) return false;
        this.buffer = this.buffer.subarray(end + 4);
        return true;
      }
      if (this.buffer.length < lineEnd + 2 + size + 2) return false;
      this.buffer = this.buffer.subarray(lineEnd + 2 + size + 2);
    }
  }
}

type Outcome = { status: number } | { error: string };

/** One keep-alive connection carrying one request at a time. */
class Connection {
  private socket: Socket | null = null;
  private reader = new ReplyReader();
  private waiting: ((outcome: Outcome) => void) | null = null;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  send(bytes: Buffer, timeoutMs: number): Promise<Outcome> {
    const socket = this.socket ?? this.open();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.fail(`no reply within ${timeoutMs} ms`), timeoutMs);
      this.waiting = (outcome) => {
        clearTimeout(timer);
        this.waiting = null;
        resolve(outcome);
      };
      socket.write(bytes);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = null;
  }

  private open(): Socket {
    const socket = connect({ host: this.host, port: this.port, noDelay: true });
    this.socket = socket;
    this.reader = new ReplyReader();
    socket.on('data', (data: Buffer) => {
      if (this.socket !== socket) return;
      let statuses: number[];
      try {
        statuses = this.reader.feed(data);
      } catch (err) {
        this.fail(`malformed reply: ${(err as Error).message}`);
        return;
      }
      if (statuses.length > 1 || (statuses.length === 1 && this.waiting === null)) {
        this.fail('a reply nobody asked for');
        return;
      }
      if (statuses.length === 1) this.waiting!({ status: statuses[0]! });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (this.socket === socket) this.fail(err.code ?? err.message);
    });
    socket.on('close', () => {
      if (this.socket === socket) this.fail('connection closed by the server');
    });
    return socket;
  }

  /** Ends the pending request with an error and drops the connection; the next send opens a new one. */
  private fail(reason: string): void {
    this.close();
    this.waiting?.({ error: reason });
  }
}

function encodeRequest(r: LoadRequest, host: string): Buffer {
  if (r.body === undefined) return Buffer.from(`${r.method} ${r.path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`, 'latin1');
  const body = Buffer.from(r.body, 'utf8');
  const head = `${r.method} ${r.path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

/** The value at quantile q of sorted values (nearest rank). */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** Runs a closed-loop load as `spec` says and reports what came back. */
export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  if (!Number.isSafeInteger(spec.connections) || spec.connections < 1) throw new RangeError(`connections must be a positive integer, got ${spec.connections}`);
  if (!Number.isSafeInteger(spec.maxRequests) || spec.maxRequests < 1) throw new RangeError(`maxRequests must be a positive integer, got ${spec.maxRequests}`);
  const url = new URL(spec.url);
  const host = url.host;
  const ok = spec.ok ?? ((status: number) => status >= 200 && status < 300);
  const timeoutMs = spec.timeoutMs ?? 10_000;
  const latencies = new Float64Array(spec.maxRequests);
  let okCount = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  let issued = 0;
  const start = performance.now();
  const deadline = start + spec.maxMs;

  const worker = async (): Promise<void> => {
    const connection = new Connection(url.hostname, Number(url.port || 80));
    try {
      while (issued < spec.maxRequests && performance.now() < deadline) {
        const request = spec.request(issued++);
        const began = performance.now();
        const outcome = await connection.send(encodeRequest(request, host), timeoutMs);
        const latency = performance.now() - began;
        const error = 'error' in outcome ? outcome.error : ok(outcome.status) ? null : `status ${outcome.status}`;
        if (error === null) {
          latencies[okCount++] = latency;
        } else {
          errors++;
          if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push(`${request.method} ${request.path}: ${error}`);
        }
      }
    } finally {
      connection.close();
    }
  };
  await Promise.all(Array.from({ length: spec.connections }, worker));
  const elapsedMs = performance.now() - start;
  const sorted = latencies.subarray(0, okCount).sort();
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    ok: okCount,
    errors,
    errorSamples,
    elapsedMs,
    perSec: okCount / (elapsedMs / 1000),
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
    meanMs: okCount === 0 ? NaN : sum / okCount,
  };
}
