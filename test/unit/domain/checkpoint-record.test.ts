import { describe, expect, it } from 'vitest';
import { checkpointRecordXml, parseCheckpointRecord } from '../../../src/domain/checkpoint-record';

describe('checkpoint records', () => {
  it('round-trips through the metadata element, hostile paths included', () => {
    const record = {
      name: 'kvm-clone-0a1b2c3d-17',
      sourceUuid: 'u-1',
      fingerprints: { '/vms/a "b" & <c>/root.qcow2': '1 2.5 3.5', '/vms/x': '4 5 6' },
    };
    expect(parseCheckpointRecord(checkpointRecordXml(record))).toEqual(record);
  });

  it('reads nothing from anything else', () => {
    expect(parseCheckpointRecord('<sync state="incomplete"/>')).toBeUndefined();
    expect(parseCheckpointRecord('<checkpoint name="x"/>')).toBeUndefined();
    expect(parseCheckpointRecord('not xml <')).toBeUndefined();
  });
});
