// A sweep worker thread: receives jobs one at a time, answers each with its result. The mutant's tree (if any)
// is materialized once per worker.
import { parentPort, workerData } from 'node:worker_threads';
import { withRunner } from '../trace/record.ts';
import { runJob, type SweepJob } from './job.ts';

const port = parentPort;
if (port === null) throw new Error('sim/sweep/worker.ts runs as a worker thread');
const { mutant } = workerData as { mutant: string | null };

await withRunner(mutant, (run) => {
  return new Promise<void>((resolve) => {
    port.on('message', (message: SweepJob | 'stop') => {
      if (message === 'stop') {
        resolve();
        return;
      }
      void runJob(message, run).then((result) => port.postMessage(result));
    });
    port.postMessage('ready');
  });
});
process.exit(0);
