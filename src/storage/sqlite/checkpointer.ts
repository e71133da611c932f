// WAL checkpoints off the request thread. With synchronous=NORMAL a commit never fsyncs, but an automatic
// checkpoint does — inside whichever commit crosses the threshold, on the event loop. So the request
// connection turns automatic checkpoints off and a worker thread with its own connection runs a PASSIVE
// checkpoint (it never blocks writers) on a timer; keeping the WAL short also keeps commits fast.
// If the worker cannot start, SQLite's own automatic checkpoints are switched back on.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';

const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { timeout: 5000 });
const checkpoint = (mode) => { try { db.pragma('wal_checkpoint(' + mode + ')'); } catch { /* busy: next time */ } };
const timer = setInterval(() => checkpoint('PASSIVE'), workerData.everyMs);
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  clearInterval(timer);
  checkpoint('PASSIVE');
  db.close();
  parentPort.postMessage('closed');
});
parentPort.postMessage('ready');
`;

export interface Checkpointer {
  close(): Promise<void>;
}

export function startCheckpointer(db: BetterSqlite3.Database, file: string, everyMs = 250): Checkpointer {
  const restoreAuto = (): void => {
    if (db.open) db.pragma('wal_autocheckpoint = 1000');
  };
  let worker: Worker;
  try {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file, everyMs } });
  } catch {
    return { close: async () => undefined };
  }
  db.pragma('wal_autocheckpoint = 0');
  worker.unref();
  worker.on('error', restoreAuto);
  worker.on('exit', restoreAuto);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 2_000);
        worker.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        // `on`, not `once`: a worker closed right after it started sends 'ready' first.
        worker.on('message', (message) => {
          if (message === 'closed') void worker.terminate();
        });
        worker.postMessage('close');
      }),
  };
}
