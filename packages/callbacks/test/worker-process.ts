// A callback worker in a process of its own, on a SQLite outbox, for the kill -9 test: it delivers whatever is due
// to the sink until it is killed. UPLINK_DB is the database file.
import { createSqliteStorage } from '@uplink/core/sqlite';
import { createCallbackWorker, createDeliveryClient, retryDelay } from '../src/index.js';

const storage = createSqliteStorage({ filename: process.env.UPLINK_DB as string });
const client = createDeliveryClient({ allow: ['127.0.0.1'], defaultTimeoutMs: 2000 });
const worker = createCallbackWorker({
  storage,
  deliver: (target, payload, attempt) => client.deliver(target, payload, attempt),
  transform: (_expression, message) => message,
  retryDelay: (attempt) => retryDelay(attempt, [50, 50, 50, 50, 50], () => 1),
  concurrency: 8,
  pollIntervalMs: 10,
  // Short, so that what the killed process had taken is taken again soon after the restart.
  leaseMs: 400,
});
worker.start();
process.stdout.write('ready\n');
// Keep the process alive: the worker's timers are unref()ed.
setInterval(() => {}, 1 << 30);
