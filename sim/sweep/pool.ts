// Runs sweep jobs on worker threads, one job per worker at a time, handing out the next job as each finishes.
import { Worker } from 'node:worker_threads';
import { runJobsInline, type SweepJob, type SweepJobResult } from './job.ts';

export interface PoolOptions {
  workers: number;
  mutant: string | null;
  onResult: (result: SweepJobResult) => void;
}

/** Resolves when every job has a result. A worker that dies fails its job with the error and is replaced. */
export async function runSweepJobs(jobs: readonly SweepJob[], options: PoolOptions): Promise<void> {
  const size = Math.max(1, Math.min(options.workers, jobs.length));
  if (size === 1) return runJobsInline(jobs, options.mutant, options.onResult);
  const queue = [...jobs];
  let remaining = jobs.length;
  return new Promise<void>((resolve) => {
    const startWorker = (): void => {
      const worker = new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: { mutant: options.mutant } });
      let current: SweepJob | null = null;
      let ready = false;
      const next = (): void => {
        current = queue.shift() ?? null;
        if (current === null) worker.postMessage('stop');
        else worker.postMessage(current);
      };
      worker.on('message', (message: SweepJobResult | 'ready') => {
        if (message === 'ready') ready = true;
        else {
          current = null;
          options.onResult(message);
          if (--remaining === 0) resolve();
        }
        next();
      });
      worker.on('error', (err) => {
        const fail = (job: SweepJob): void => {
          options.onResult({ index: job.index, scenario: job.scenario, seed: job.seed, ok: false, asExpected: false, failed: [], ops: 0, simulatedMs: 0, wallMs: 0, events: 0, hash: '', trace: null, error: `worker died: ${err.message}` });
          if (--remaining === 0) resolve();
        };
        if (current !== null) fail(current);
        current = null;
        // A worker that could not even start would fail every replacement too: fail the rest instead of looping.
        if (!ready) queue.splice(0).forEach(fail);
        else if (queue.length > 0) startWorker();
      });
    };
    for (let i = 0; i < size; i++) startWorker();
  });
}
