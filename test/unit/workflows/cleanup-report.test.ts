import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../../src/errors';
import { describeCleanupFailures, operationFailure } from '../../../src/workflows/cleanup-report';

const cause = { code: ErrorCode.TRANSFER_ERROR, codeName: 'TRANSFER_ERROR', message: 'copy of /a differs' } as const;
const merge = {
  step: 'merge the source back',
  code: ErrorCode.LIBVIRT_ERROR,
  message: 'blockcommit failed',
  left: "'web' on a may still run on its overlays /img/web.qcow2.kvm-clone-1.overlay",
};

describe('operation failures after cleanup', () => {
  it('keeps the cause as it was when every undo worked', () => {
    const failure = operationFailure('clone', cause, []);
    expect(failure.message).toBe('copy of /a differs');
    expect(failure.details).toEqual([{ code: ErrorCode.TRANSFER_ERROR }]);
    expect(failure.nonRetryable).toBe(false);
  });

  it('says what a failed undo left, with 1200 for a clone and the cause in the details', () => {
    const failure = operationFailure('clone', cause, [merge]);
    expect(failure.message).toBe(
      "copy of /a differs; cleanup failed: merge the source back (blockcommit failed); 'web' on a may still run on its overlays /img/web.qcow2.kvm-clone-1.overlay",
    );
    expect(failure.type).toBe('CLONE_ERROR');
    expect(failure.nonRetryable).toBe(true);
    expect(failure.details).toEqual([
      {
        code: ErrorCode.CLONE_ERROR,
        cause: { code: ErrorCode.TRANSFER_ERROR, codeName: 'TRANSFER_ERROR' },
        cleanupFailures: [merge],
      },
    ]);
  });

  it('uses 1201 for a sync and lists every failed step in order', () => {
    const removal = { step: 'remove the files of added disks', code: ErrorCode.GENERAL_ERROR, message: 'rm failed' };
    const failure = operationFailure('sync', cause, [removal, merge]);
    expect((failure.details?.[0] as { code: number }).code).toBe(ErrorCode.SYNC_ERROR);
    expect(describeCleanupFailures([removal, merge])).toBe(
      "remove the files of added disks (rm failed); merge the source back (blockcommit failed); 'web' on a may still run on its overlays /img/web.qcow2.kvm-clone-1.overlay",
    );
  });
});
