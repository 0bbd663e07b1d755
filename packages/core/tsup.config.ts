import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    testing: 'src/testing.ts',
    'storage/sqlite': 'src/storage/sqlite.ts',
    'transport/dtls': 'src/transport/dtls.ts',
  },
  external: ['vitest', 'better-sqlite3'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
});
