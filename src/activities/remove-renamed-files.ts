import type { HostRef } from '../domain/schemas/host';
import { sh } from '../domain/shell-quote';
import { ErrorCode } from '../errors';
import { activityBody, withHost, type ActivityDeps } from './deps';
import { assertWritable } from './writable-paths';

export interface RemoveRenamedFilesInput {
  destination: HostRef;
  /** The renames finalizeFiles was asked to do: partial copy `from`, final name `to`. */
  renames: { from: string; to: string }[];
}

export function removeRenamedFiles(deps: ActivityDeps) {
  /**
   * Undoes finalizeFiles' renames: removes a final file only when its partial copy is gone,
   * that is when this operation's rename made it. A rename refused because a file was in
   * the way leaves the partial copy, and the file in the way is not this operation's to
   * remove. (The partial copies themselves go with the step undone after this one.)
   */
  return async function removeRenamedFiles(input: RemoveRenamedFilesInput): Promise<void> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        await assertWritable(
          session,
          input.renames.map((rename) => rename.to),
          'destination file',
        );
        for (const { from, to } of input.renames) {
          await session.run(sh`if [ ! -e ${from} ] && [ ! -L ${from} ] && [ -f ${to} ]; then rm -f -- ${to}; fi`, {
            what: `removing ${to}`,
            failureCode: ErrorCode.CLONE_ERROR,
          });
        }
      }),
    );
  };
}
