// The messages the benchmark decodes: the real Clime payload (v1 codec, reference JSON) and a large v2 Clime
// message with series, generated deterministically and encoded with the codec's own encoder.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Codec, type EncodableValue, fromHex, type JsonValue, loadCodec } from '@uplink/codec';
import { buildReferenceTable, type ReferenceTable } from './reference.js';

/** shared/fixtures/hardwario beside the repository (override with UPLINK_FIXTURES). */
export const FIXTURES = process.env.UPLINK_FIXTURES ?? resolve(import.meta.dirname, '../../shared/fixtures/hardwario');
const UDPPARSER = join(FIXTURES, 'vectors/uun-iot-udpparser');
const CLIME_V2 = join(FIXTURES, 'codecs/chester-sdk__clime__cbor-decoder.yaml');

export interface BenchMessage {
  /** Short id used in case names and results. */
  readonly name: string;
  readonly description: string;
  readonly codecFile: string;
  readonly codec: Codec;
  /** The baseline's attribute table, built from the same YAML. */
  readonly table: ReferenceTable;
  readonly bytes: Uint8Array;
  /** What the HARDWARIO reference decoder gives (v1 vector only: the fixture's .json). */
  readonly referenceJson: JsonValue | undefined;
  /** What was encoded (generated message only). */
  readonly sourceJson: JsonValue | undefined;
}

function read(path: string): string {
  return readFileSync(path, 'utf8');
}

export function climeV1Message(): BenchMessage {
  const codecFile = join(UDPPARSER, 'decoder-clime.yaml');
  const yaml = read(codecFile);
  return {
    name: 'clime-v1',
    description: 'real CHESTER Clime payload, v1 codec (uun-iot-udpparser/decoder-clime)',
    codecFile,
    codec: loadCodec(yaml, { source: 'decoder-clime.yaml' }),
    table: buildReferenceTable(yaml),
    bytes: fromHex(read(join(UDPPARSER, 'decoder-clime.raw'))),
    referenceJson: JSON.parse(read(join(UDPPARSER, 'decoder-clime.json'))) as JsonValue,
    sourceJson: undefined,
  };
}

/** mulberry32: a small deterministic PRNG, so the generated message is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface LargeMessageOptions {
  /** Samples per tsp series. Default 24 (two hours at the Clime's 5-minute period). */
  samples?: number;
  /** 1-Wire thermometers in the `w1_thermometers` list. Default 4. */
  thermometers?: number;
}

/**
 * A large Clime v2 body: every iaq_sensor channel, a list of 1-Wire thermometers and the hygrometer, each with
 * `samples` min/max/avg/mdn tsp records, plus tso events and enums. Values are generated in device units
 * (centi-degrees...) and scaled like the decoder would, so encode -> decode round-trips exactly.
 */
export function largeClimeBody(options: LargeMessageOptions = {}): { [key: string]: EncodableValue } {
  const samples = options.samples ?? 24;
  const thermometers = options.thermometers ?? 4;
  const random = prng(0xc11e);
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const t0 = 1_700_459_721;
  const period = 300;
  const now = t0 + samples * period;

  // One tsp list of min/max/avg/mdn around a random walk; `scale` 100 gives values with 2 decimals.
  const stats = (base: number, spread: number, drift: number, scale: number): EncodableValue[] => {
    const out: EncodableValue[] = [];
    let level = base;
    for (let i = 0; i < samples; i++) {
      level += int(-drift, drift);
      const min = level - int(0, spread);
      const max = level + int(0, spread);
      const avg = int(min, max);
      const mdn = int(min, max);
      out.push({ timestamp: t0 + i * period, min: min / scale, max: max / scale, avg: avg / scale, mdn: mdn / scale });
    }
    return out;
  };
  const counts = (hi: number): EncodableValue[] =>
    Array.from({ length: samples }, (_, i) => ({ timestamp: t0 + i * period, value: int(0, hi) }));

  return {
    message: { version: 1, sequence: 5027, timestamp: now },
    system: { uptime: 9_072_627, voltage_load: 3.44, voltage_rest: 3.63, current_load: 34 },
    network: {
      parameter: { eest: 8, ecl: 0, rsrp: -71, rsrq: -9, snr: 15, plmn: 23003, cid: 1_011_233, band: 20, earfcn: 6447 },
    },
    thermometer: { temperature: 20.3 },
    accelerometer: { accel_x: -0.01, accel_y: 0.02, accel_z: 9.81, orientation: 1 },
    iaq_sensor: {
      temperature: { measurements: stats(2150, 15, 6, 100) },
      humidity: { measurements: stats(4200, 40, 20, 100) },
      illuminance: { measurements: stats(320, 60, 25, 1) },
      altitude: { measurements: stats(251, 2, 1, 1) },
      pressure: { measurements: stats(98_900, 20, 8, 1) },
      co2_conc: { measurements: stats(650, 40, 30, 1) },
      motion_count: { measurements: counts(12) },
      press_count: { measurements: counts(3) },
    },
    w1_thermometers: Array.from({ length: thermometers }, (_, i) => ({
      // 1-Wire ROM ids are 64-bit; these stay below 2^53 so every decoder gives a number.
      serial_number: 0x28_0000_0000_0000 + i * 0x1_0101_0101 + int(0, 0xffff),
      measurements: stats(int(-500, 1500), 10, 8, 100),
    })),
    hygrometer: {
      temperature: {
        events: [
          { timestamp: t0 + 1200, type: 'alarm_hi_activated', value: 25.5 },
          { timestamp: t0 + 3300, type: 'alarm_hi_deactivated', value: 24.75 },
          { timestamp: t0 + 5400, type: 'alarm_lo_activated', value: 18.02 },
        ],
        measurements: stats(2065, 10, 4, 100),
      },
      humidity: { measurements: stats(3910, 25, 10, 100) },
    },
    tamper: {
      state: 'inactive',
      events: [
        { timestamp: t0 + 600, type: 'activated' },
        { timestamp: t0 + 660, type: 'deactivated' },
      ],
    },
  };
}

export function largeClimeV2Message(options: LargeMessageOptions = {}): BenchMessage {
  const yaml = read(CLIME_V2);
  const codec = loadCodec(yaml, { source: 'chester-sdk__clime__cbor-decoder.yaml' });
  const body = largeClimeBody(options);
  return {
    name: 'clime-v2-large',
    description: 'generated CHESTER Clime message with series, v2 codec (chester-sdk clime cbor-decoder)',
    codecFile: CLIME_V2,
    codec,
    table: buildReferenceTable(yaml),
    bytes: codec.encode(body),
    referenceJson: undefined,
    sourceJson: body as JsonValue,
  };
}
