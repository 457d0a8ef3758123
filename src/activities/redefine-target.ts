import type { CloneRewrite } from '../domain/domain-xml';
import type { HostRef } from '../domain/schemas/host';
import { defineClone } from './define-clone';
import type { ActivityDeps } from './deps';

export interface RedefineTargetInput {
  destination: HostRef;
  sourceXml: string;
  /** The source's definition with the target's identity (its name, UUID, MACs and paths). */
  rewrite: CloneRewrite;
  /** The source domain whose VNC/SPICE passwords the target takes, read on the worker. */
  graphicsPasswordsFrom: { source: HostRef; vmName: string };
  /** The sync (workflow ID), kept in the target's clone record. */
  operationId: string;
  /**
   * Final paths of the files the sync added: they join the target's clone record, so the next sync writes into them
   * too.
   */
  addedFiles: string[];
}

export function redefineTarget(deps: ActivityDeps) {
  const define = defineClone(deps);
  /**
   * Redefines the sync target from the source's rewritten definition, only while it is
   * still the domain the sync inspected: another domain under its name is 1004, a target
   * gone is 1003, and nothing is redefined then. The target is never started.
   */
  return async function redefineTarget(input: RedefineTargetInput): Promise<void> {
    const { addedFiles, ...definition } = input;
    await define({ ...definition, start: false, redefine: true, createdFiles: addedFiles });
  };
}
