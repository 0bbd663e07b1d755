import { describe, expect, it } from 'vitest';
import { createMemoryStorage } from '../src/index.js';
import { newDevice, newMessage, testStorage } from '../src/testing.js';

testStorage({ name: 'memory', create: (limits) => createMemoryStorage(limits) });

describe('memory storage bounds', () => {
  it('keeps at most maxMessages, dropping the oldest', async () => {
    const store = createMemoryStorage({ maxMessages: 2 });
    const device = await store.createDevice(newDevice());
    const messages = [newMessage(device), newMessage(device), newMessage(device)];
    for (const message of messages) await store.storeMessage(message);
    expect((await store.listMessages()).items.map((m) => m.id)).toEqual([messages[2]?.id, messages[1]?.id]);
  });

  it('refuses use after close', async () => {
    const store = createMemoryStorage();
    await store.close();
    expect(() => store.listCodecs()).toThrowError(expect.objectContaining({ code: 'STORAGE_CLOSED' }));
  });
});
