import {
  CLONE_RECORD_KEY,
  CLONE_RECORD_NAMESPACE,
  cloneRecordOf,
  cloneRecordXml,
  mergeCloneRecords,
  type CloneRecord,
} from '../domain/clone-record';
import type { CloneRewrite } from '../domain/domain-xml';
import { sh } from '../domain/shell-quote';
import { Libvirt } from './libvirt';
import type { SshSession } from './ssh-session';
import { runVirsh } from './virsh';

/** The clone record of a domain's persistent definition; undefined when it has none (or there is no such domain). */
export async function readCloneRecord(session: SshSession, vmName: string): Promise<CloneRecord | undefined> {
  const libvirt = new Libvirt(session);
  if ((await libvirt.domainState(vmName)) === undefined) return undefined;
  return cloneRecordOf(await libvirt.dumpXml(vmName, { inactive: true }));
}

/**
 * Sets a defined domain's clone record (`virsh metadata`, persistent definition). A
 * define that carries the record in its XML (see recordForDefine) needs no second step;
 * this is for a domain that exists already.
 */
export async function writeCloneRecord(session: SshSession, vmName: string, record: CloneRecord): Promise<void> {
  await runVirsh(
    session,
    sh`metadata --domain ${vmName} --uri ${CLONE_RECORD_NAMESPACE} --key ${CLONE_RECORD_KEY} --set ${cloneRecordXml(record)} --config`,
    `recording the files of clone '${vmName}'`,
  );
}

/**
 * The files a clone's definition itself points at: its disks' images (pool volumes resolved) and its variable store.
 */
async function filesOfRewrite(session: SshSession, rewrite: CloneRewrite): Promise<string[]> {
  const libvirt = new Libvirt(session);
  const volumes = await Promise.all(
    Object.values(rewrite.volumeDisks ?? {}).map((volume) =>
      libvirt.volumePath(volume.pool, volume.volume).catch(() => undefined),
    ),
  );
  return [
    ...Object.values(rewrite.diskPaths),
    ...(rewrite.nvramPath ? [rewrite.nvramPath] : []),
    ...volumes.filter((path): path is string => path !== undefined),
  ];
}

/**
 * The clone record a define (defineClone) puts into the domain's XML with withCloneRecord:
 * the files this operation created (`createdFiles`; without them, the files the rewritten
 * definition points at), and, when redefining a sync target, every file its record
 * already listed, so the sync's redefine keeps the record and adds the disks it added.
 */
export async function recordForDefine(
  session: SshSession,
  input: { rewrite: CloneRewrite; redefine?: boolean; operationId?: string; createdFiles?: readonly string[] },
): Promise<CloneRecord> {
  const created: CloneRecord = {
    operation: input.operationId ?? '',
    files: [...(input.createdFiles ?? (await filesOfRewrite(session, input.rewrite)))],
  };
  const earlier = input.redefine ? await readCloneRecord(session, input.rewrite.newName) : undefined;
  return mergeCloneRecords(earlier, created);
}
