// A real Uplink ingest process for the kill -9 test: SQLite storage, the flap-hash UDP server on an ephemeral
// port. Prints "listening <port>" when ready.
import { createFlapUdpServer } from '@uplink/core';
import { createSqliteStorage } from '@uplink/core/sqlite';

const filename = process.env.UPLINK_DB;
if (!filename) throw new Error('UPLINK_DB is not set');
const storage = createSqliteStorage({ filename });
const server = createFlapUdpServer({ storage, host: '127.0.0.1', binaryPort: 0, base64Port: 0 });
const { binaryPort } = await server.listen();
process.stdout.write(`listening ${binaryPort}\n`);
