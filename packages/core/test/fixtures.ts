// The ctr-cloud vectors of hardwario/chester-sdk (../shared beside the repository, as in CI).

import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Device, Downlink, Storage } from '../src/index.js';

export const CTR_CLOUD = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../../shared/fixtures/hardwario/vectors/ctr-cloud',
);

export function readVectors<T>(name: string): T {
  return JSON.parse(readFileSync(join(CTR_CLOUD, name), 'utf8')) as T;
}

export const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
export const hexOf = (data: Uint8Array): string => Buffer.from(data).toString('hex');

/** The device of the firmware's boot trace (test_cloud.c: mock_ctr_info.c), registered as its mock server had it. */
export const BOOT_DEVICE = {
  id: '0188d85c-8962-786f-c985-a67fee7bb144',
  name: 'test-device-s0-985',
  serialNumber: 2159017985,
  claimToken: bytes('98a8856ba6534bd5212176b22f3acbb3'),
} as const;

/** The mock server's clock and session id in the boot trace. */
export const BOOT_NOW = 1689932686_000;
export const BOOT_SESSION_ID = 1689932687;

export function registerBootDevice(storage: Storage): Promise<Device> {
  return Promise.resolve(
    storage.createDevice({
      ...BOOT_DEVICE,
      claimToken: BOOT_DEVICE.claimToken.slice(),
      tags: [],
      labels: {},
      tenant: { spaceId: 'space', groupId: 'group' },
    }),
  );
}

/**
 * What the firmware test queues on its mock server during the boot: a config download once the session is
 * set (before device packet 5), a shell command after the first empty poll (before device packet 12).
 */
export async function queueBootDownlinks(storage: Storage, packetIndex: number): Promise<void> {
  const at = new Date(BOOT_NOW);
  const queued = (id: string, kind: Downlink['kind'], payload: Downlink['payload']): Downlink => ({
    id,
    deviceId: BOOT_DEVICE.id,
    kind,
    payload,
    state: 'pending',
    createdAt: at,
    updatedAt: at,
  });
  if (packetIndex === 5) {
    await storage.addDownlink(
      queued('018dd0f2-9d00-7000-8000-000000000001', 'config', {
        lines: [
          'app config interval-sample 10',
          'app config interval-report 60',
          'app config backup-report-connected true',
        ],
      }),
    );
  }
  if (packetIndex === 12) {
    await storage.addDownlink(
      queued('018dd0f2-9d01-75f2-abaf-092b8d2f9f2b', 'shell', {
        commands: ['app config show', 'app config interval-sample'],
      }),
    );
  }
}
