// A bench/zoo.ts worker thread: takes bug names one at a time and answers each with its job's result. Worker
// threads do not inherit the parent's TypeScript loader, so tsx is registered here first.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { zooJob } = await import('./zoo-job.ts');
parentPort.on('message', (name) => {
  if (name === null) process.exit(0);
  void zooJob(name, workerData).then((result) => parentPort.postMessage(result));
});
parentPort.postMessage('ready');
