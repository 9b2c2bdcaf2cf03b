// An exclusive claim on a data dir, so two processes (or two opens in one process) never write the same WAL.
// Node has no portable flock, so the lock is a file created with O_EXCL holding the owner's pid. A lock left
// by a process that died (SIGKILL, power loss) is taken over once its pid is seen to be gone; a live owner is
// refused. Pid reuse after a reboot can make a stale lock look live; the error names the file to remove.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';

export const LOCK_FILE = 'LOCK';

export class DataDirLockedError extends Error {
  constructor(dir: string, pid: number) {
    super(`wal: data dir ${dir} is in use by process ${pid} (lock file ${join(dir, LOCK_FILE)}); stop that process or remove the lock if it is not running`);
    this.name = 'DataDirLockedError';
  }
}

/** Held locks of this process, so a second open in the same process is refused though its pid is alive. */
const heldByThisProcess = new Set<string>();

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface DirLock {
  release(): void;
}

export function lockDataDir(dir: string): DirLock {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
      if (heldByThisProcess.has(path) || (Number.isSafeInteger(owner) && owner > 0 && owner !== process.pid && processIsAlive(owner))) {
        throw new DataDirLockedError(dir, heldByThisProcess.has(path) ? process.pid : owner);
      }
      unlinkSync(path); // stale: its owner is gone
      continue;
    }
    writeSync(fd, `${process.pid}\n`);
    fsyncSync(fd);
    closeSync(fd);
    heldByThisProcess.add(path);
    let released = false;
    return {
      release() {
        if (released) return;
        released = true;
        heldByThisProcess.delete(path);
        try {
          unlinkSync(path);
        } catch {
          // already gone: nothing to release
        }
      },
    };
  }
  throw new Error(`wal: could not take the lock ${path}: another process took it at the same time`);
}
