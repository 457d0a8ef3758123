import { describe, expect, it } from 'vitest';
import { parseNodeInfo, parseNodeMemStats } from '../../../src/domain/node-capacity';

/** `virsh nodeinfo` of libvirt 9 on a 2-CPU machine. */
const NODEINFO = `CPU model:           x86_64
CPU(s):              2
CPU frequency:       2199 MHz
CPU socket(s):       1
Core(s) per socket:  2
Thread(s) per core:  1
NUMA cell(s):        1
Memory size:         24683652 KiB
`;

/** `virsh nodememstats` of the same machine. */
const NODEMEMSTATS = `total  :             24683652 KiB
free   :             21103080 KiB
buffers:               102400 KiB
cached :              2600000 KiB
`;

describe('parseNodeInfo', () => {
  it('reads the CPU count and the memory size', () => {
    expect(parseNodeInfo(NODEINFO)).toEqual({ cpus: 2, totalMemoryBytes: 24683652 * 1024 });
  });

  it('leaves out fields it cannot read, and ignores lines of another shape', () => {
    expect(parseNodeInfo('CPU(s): many\nMemory size: lots\nnoise without a colon\n')).toEqual({});
    expect(parseNodeInfo('CPU(s): 0\n')).toEqual({});
    expect(parseNodeInfo('')).toEqual({});
  });
});

describe('parseNodeMemStats', () => {
  it("reads the kernel's total, and counts free memory, buffers and page cache as available", () => {
    expect(parseNodeMemStats(NODEMEMSTATS)).toEqual({
      totalMemoryBytes: 24683652 * 1024,
      availableMemoryBytes: (21103080 + 102400 + 2600000) * 1024,
    });
  });

  it('takes free alone when buffers or cached are missing, nothing available without free, no total of 0', () => {
    expect(parseNodeMemStats('free : 1000 KiB\n')).toEqual({ availableMemoryBytes: 1000 * 1024 });
    expect(parseNodeMemStats('total : 1000 KiB\ncached : 5 KiB\n')).toEqual({ totalMemoryBytes: 1000 * 1024 });
    expect(parseNodeMemStats('total : 0 KiB\nfree : -1 KiB\n')).toEqual({});
  });
});
