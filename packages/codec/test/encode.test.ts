import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromHex, loadCodec, toHex } from '../src/index.js';
import { CODEC_HASH_DIR, readHex, readText, UDPPARSER_DIR } from './fixtures.js';

describe('encoding JSON to device CBOR', () => {
  it('encodes a downlink with the demo encoder codec', () => {
    const codec = loadCodec(readText(join(CODEC_HASH_DIR, 'demo.encoder.yaml')));
    const bytes = codec.encode({ led_r: 1, led_g: 0, led_load: 1 });
    expect(toHex(bytes)).toBe('a3000101000301');
    expect(codec.decode(bytes).body).toEqual({ led_r: 1, led_g: 0, led_load: 1 });
  });

  it('multiplies where the decoder divides and turns enum names into indexes', () => {
    const codec = loadCodec(`
version: 2
type: encoder
name: test.setpoint
schema:
  - setpoint:
      - $div: 100
      - $fpp: 2
  - mode:
      - $enum: ["off", "heat", "cool"]
  - label:
      - $type: string
  - ratio:
      - $type: float
`);
    const bytes = codec.encode({ setpoint: 20.63, mode: 'cool', label: 'hall', ratio: 0.5 });
    expect(toHex(bytes)).toBe(`a4${'0019080f'}${'0102'}${'026468616c6c'}${'03fa3f000000'}`);
    expect(codec.decode(bytes).body).toEqual({ setpoint: 20.63, mode: 'cool', label: 'hall', ratio: 0.5 });
  });

  it('turns series records back into flat tsp and tso lists', () => {
    const codec = loadCodec(readText(join(UDPPARSER_DIR, 'decoder-enum-non-existent-value.yaml')));
    const original = codec.decode(readHex(join(UDPPARSER_DIR, 'decoder-enum-non-existent-value.raw'))).body;
    const again = codec.decode(codec.encode(original as never));
    expect(again.body).toEqual(original);
  });

  it('round-trips the real Clime message through encode and decode', () => {
    const codec = loadCodec(readText(join(UDPPARSER_DIR, 'decoder-clime.yaml')));
    const { body } = codec.decode(readHex(join(UDPPARSER_DIR, 'decoder-clime.raw')));
    expect(codec.decode(codec.encode(body as never)).body).toEqual(body);
  });

  it('names the JSON path a codec cannot represent', () => {
    const codec = loadCodec(readText(join(CODEC_HASH_DIR, 'clime.decoder.yaml')));
    expect(() => codec.encode({ thermometer: { colour: 1 } })).toThrowError(
      expect.objectContaining({ code: 'CODEC_ENCODE', path: 'thermometer.colour' }),
    );
    expect(() => codec.encode({ tamper: { state: 'open' } })).toThrowError(/"open" is not one of "inactive", "active"/);
    expect(() =>
      codec.encode({
        hygrometer: {
          temperature: {
            measurements: [
              { timestamp: 1, min: 1, max: 1, avg: 1, mdn: 1 },
              { timestamp: 3, min: 1, max: 1, avg: 1, mdn: 1 },
              { timestamp: 4, min: 1, max: 1, avg: 1, mdn: 1 },
            ],
          },
        },
      }),
    ).toThrowError(/evenly spaced/);
  });

  it('encodes byte strings given as Uint8Array and wmbus frames from hex', () => {
    const codec = loadCodec('version: 2\ntype: decoder\nname: x\nschema:\n  - blob:\n  - frames:\n      - $wmbus:\n');
    const bytes = codec.encode({ blob: fromHex('0102'), frames: [{ rssi: -65, data: '3244' }] });
    expect(toHex(bytes)).toBe('a200420102018238404232 44'.replace(' ', ''));
  });
});
