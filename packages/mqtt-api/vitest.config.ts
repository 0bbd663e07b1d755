import { defineProject } from 'vitest/config';

// Workspace packages resolve to their sources (the `uplink-source` export condition): tests need no build.
const conditions = ['uplink-source', 'module', 'node', 'development'];

export default defineProject({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: conditions } },
  test: {
    name: 'mqtt-api',
    include: ['test/**/*.test.ts'],
  },
});
