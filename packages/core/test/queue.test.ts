import { describe, expect, it } from 'vitest';
import { createMemoryQueue } from '../src/index.js';
import { testQueue } from '../src/testing.js';

testQueue({ name: 'memory', create: () => createMemoryQueue<number>() });

describe('memory queue backpressure', () => {
  it('makes publish wait while a slow subscriber has maxBuffered events waiting', async () => {
    const queue = createMemoryQueue<number>({ maxBuffered: 2 });
    const release: (() => void)[] = [];
    queue.subscribe(() => new Promise<void>((resolve) => release.push(resolve)));
    await queue.publish(1); // taken by the consumer at once
    await queue.publish(2);
    await queue.publish(3); // buffer: 2, 3 (full)
    let published = false;
    const fourth = Promise.resolve(queue.publish(4)).then(() => {
      published = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(published).toBe(false);
    release.shift()?.();
    await fourth;
    expect(published).toBe(true);
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      release.shift()?.();
    }
    await queue.close();
  });
});
