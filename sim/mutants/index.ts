// Every named mutant of the tree, so a trace or a command line can name one (`header.mutant`, `--mutant`).
import { apiMutants, kvMutants } from './kv.ts';
import type { Mutant } from './mutate.ts';
import { raftMutants } from './raft.ts';
import { replicaMutants } from './replica.ts';

export type { Mutant } from './mutate.ts';
export { materialize, withMutant } from './mutate.ts';

export const allMutants: readonly Mutant[] = [...raftMutants, ...kvMutants, ...apiMutants, ...replicaMutants];

export function mutantNamed(name: string): Mutant | undefined {
  return allMutants.find((m) => m.name === name);
}
