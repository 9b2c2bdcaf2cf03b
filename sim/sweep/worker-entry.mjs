// Worker threads do not inherit the TypeScript loader of the thread that starts them: register tsx here, then
// load the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
