import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['uplink-source'] },
  test: {
    name: 'codec',
    include: ['test/**/*.test.ts'],
  },
});
