import { createMemoryStorage, type Device } from '@uplink/core';
import { newDevice, newMessage } from '@uplink/core/testing';
import { describe, expect, it } from 'vitest';
import { callbackMessage, createDeliveryPlanner, validateCallback } from '../src/index.js';

const tenant = { spaceId: 'space-a', groupId: 'group-1' };

describe('callback configuration', () => {
  it('fills in the defaults and keeps what was given', () => {
    const callback = validateCallback(
      { tenant, name: 'Ubidots', url: 'https://industrial.api.ubidots.com/api/v1.6/devices' },
      { now: 1_700_000_000_000 },
    );
    expect(callback).toMatchObject({
      tenant,
      name: 'Ubidots',
      enabled: true,
      method: 'POST',
      contentType: 'application/json',
      query: [],
      headers: [],
      payload: null,
      secret: null,
      ordered: false,
      createdAt: new Date(1_700_000_000_000),
    });
    expect(callback.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('refuses what cannot be delivered, naming the field', () => {
    const bad = (patch: Record<string, unknown>, message: RegExp) =>
      expect(() =>
        validateCallback({ tenant, name: 'x', url: 'https://example.com/', ...patch } as never),
      ).toThrowError(expect.objectContaining({ code: 'CALLBACK_INVALID', message: expect.stringMatching(message) }));
    bad({ url: 'ftp://example.com/' }, /callback url: scheme ftp: is not allowed/);
    bad({ url: 'example.com/hook' }, /callback url: .* is not an absolute URL/);
    bad({ url: 'https://user:secret@example.com/' }, /credentials in the URL/);
    bad({ method: 'DELETE' }, /callback method: expected one of POST, GET, PUT, PATCH/);
    bad({ contentType: 'text/plain' }, /callback contentType/);
    bad({ headers: [['X-Token', 'a\r\nInjected: 1']] }, /headers\[0\] value: CR, LF and NUL/);
    bad({ headers: [['Bad Header', 'x']] }, /is not an HTTP header name/);
    bad({ headers: [['webhook-signature', 'x']] }, /is set by the delivery itself/);
    bad({ name: '' }, /callback name: expected text of 1 to 100/);
    bad({ secret: 'not-a-secret' }, /callback secret: expected a Standard Webhooks secret/);
    bad({ timeoutMs: 5 }, /callback timeoutMs: expected an integer from 100 to 60000/);
    bad({ retrySchedule: [1000, -1] }, /callback retrySchedule/);
    bad({ tenant: undefined }, /callback tenant/);
  });

  it('checks the payload expression with the transform engine by default', () => {
    expect(() =>
      validateCallback({ tenant, name: 'x', url: 'https://example.com/', payload: '{ "a": data.' }),
    ).toThrowError(
      expect.objectContaining({
        code: 'CALLBACK_INVALID',
        message: expect.stringMatching(/callback payload: payload expression at position 12: .*S0203/),
      }),
    );
    expect(
      validateCallback({
        tenant,
        name: 'x',
        url: 'https://example.com/',
        payload: '{ "t": data.hygrometer.temperature }',
      }).payload,
    ).toBe('{ "t": data.hygrometer.temperature }');
  });

  it('refuses a payload expression that does not compile, with the compiler’s reason', () => {
    expect(() =>
      validateCallback(
        { tenant, name: 'x', url: 'https://example.com/', payload: '{ "a": data.' },
        {
          compile: () => {
            throw new Error('[callbacks] payload expression at position 12: unexpected end');
          },
        },
      ),
    ).toThrowError(
      expect.objectContaining({
        code: 'CALLBACK_INVALID',
        message: expect.stringMatching(/callback payload: payload expression at position 12/),
      }),
    );
  });
});

describe('delivery planner and the message a callback sees', () => {
  it('plans one delivery per enabled callback of the device’s group, cached briefly', async () => {
    const storage = createMemoryStorage();
    let now = 1_700_000_000_000;
    const device = (await storage.createDevice(newDevice({ tenant }))) as Device;
    const one = validateCallback({ tenant, name: 'one', url: 'https://a.example/' }, { now });
    const off = validateCallback({ tenant, name: 'off', url: 'https://b.example/', enabled: false }, { now: now + 1 });
    const elsewhere = validateCallback(
      { tenant: { ...tenant, groupId: 'group-2' }, name: 'x', url: 'https://c.example/' },
      { now: now + 2 },
    );
    for (const callback of [one, off, elsewhere]) await storage.putCallback(callback);
    const plan = createDeliveryPlanner(storage, { clock: () => now, cacheMs: 1000 });
    const message = newMessage(device);
    const deliveries = await plan(message, device);
    expect(deliveries).toEqual([
      expect.objectContaining({ callbackId: one.id, messageId: message.id, state: 'pending', attempts: 0 }),
    ]);
    const two = validateCallback({ tenant, name: 'two', url: 'https://d.example/' }, { now: now + 3 });
    await storage.putCallback(two);
    expect((await plan(message, device)).map((d) => d.callbackId)).toEqual([one.id]);
    now += 1001;
    expect((await plan(message, device)).map((d) => d.callbackId)).toEqual([one.id, two.id]);
    const ids = (await plan(message, device)).map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('gives the decoded body as `data` (HARDWARIO’s callback shape) and uint64 readings as decimal strings', () => {
    const device = { ...newDevice(), createdAt: new Date() } as Device;
    const message = newMessage(device);
    const seen = callbackMessage(message);
    expect(seen).toMatchObject({
      id: message.id,
      created_at: message.created_at.toISOString(),
      device_name: device.name,
      type: 'data',
      data: { thermometer: { temperature: 21.5 }, network: { imei: '18446744073709551615' } },
    });
    expect(JSON.parse(JSON.stringify(seen))).toEqual(seen);
  });
});
