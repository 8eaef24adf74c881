import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A detached watchdog that outlives the test process: if that process dies without cleaning up
 * (SIGKILL, a crashed worker), the watchdog stops the cluster's servers and deletes its files.
 * It is a separate process because nothing inside a killed process gets to run.
 */
const WATCHDOG_SOURCE = String.raw`
const fs = require('node:fs');
const path = require('node:path');
const [parent, root] = [Number(process.argv[1]), process.argv[2]];
const alive = (pid) => { try { process.kill(pid, 0); return true; } catch (e) { return e.code === 'EPERM'; } };
const postmasters = () => {
  const pids = [];
  let entries = [];
  try { entries = fs.readdirSync(root); } catch { return pids; }
  for (const entry of entries) {
    try {
      const pid = Number(fs.readFileSync(path.join(root, entry, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) pids.push(pid);
    } catch {}
  }
  return pids;
};
const reap = async () => {
  const pids = postmasters();
  for (const pid of pids) { try { process.kill(pid, 'SIGQUIT'); } catch {} }
  for (let i = 0; i < 50 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL'); } catch {} }
  for (let i = 0; i < 50 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  fs.rmSync(root, { recursive: true, force: true });
  process.exit(0);
};
const timer = setInterval(() => {
  if (!fs.existsSync(root)) process.exit(0);
  if (!alive(parent)) { clearInterval(timer); reap(); }
}, 250);
`;

/** Starts the watchdog for a cluster directory; returns a function that dismisses it. */
export function startWatchdog(clusterDir: string): () => void {
  const child = spawn(process.execPath, ['-e', WATCHDOG_SOURCE, String(process.pid), clusterDir], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  return () => {
    try {
      if (child.pid) process.kill(child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  };
}

/**
 * Synchronous last-resort cleanup for `process.on('exit')`: immediate shutdown of every
 * postmaster under the cluster directory. The watchdog removes the files once they are gone.
 */
export function quitServersSync(clusterDir: string): void {
  if (!existsSync(clusterDir)) return;
  for (const entry of readdirSync(clusterDir)) {
    try {
      const pid = Number(
        readFileSync(join(clusterDir, entry, 'data', 'postmaster.pid'), 'utf8').split('\n')[0],
      );
      if (pid > 0) process.kill(pid, 'SIGQUIT');
    } catch {
      // no server there
    }
  }
}

/** Removes a cluster directory, ignoring what is already gone. */
export function removeDirSync(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
