import { withCloneRecord } from '../domain/clone-record';
import { enforceDomainPolicy } from '../domain/domain-policy';
import { rewriteDomainForClone, withGraphicsPasswords, type CloneRewrite } from '../domain/domain-xml';
import { writableRoots, type HostRef } from '../domain/schemas/host';
import { ErrorCode, KvmCloneError } from '../errors';
import { recordForDefine } from '../hosts/clone-record';
import { Libvirt } from '../hosts/libvirt';
import { describeHost } from '../hosts/ssh-session';
import { activityBody, withHost, type ActivityDeps } from './deps';

export interface DefineCloneInput {
  destination: HostRef;
  sourceXml: string;
  rewrite: CloneRewrite;
  start: boolean;
  /** Update a domain that already exists (a sync target) instead of leaving it be. */
  redefine?: boolean;
  /** The operation (workflow ID), kept in the clone record of the domain it makes. */
  operationId?: string;
  /**
   * Final paths of the files this operation created on the destination (disks, backing
   * layers that stay, NVRAM; TPM state is vouched for by its directory). They become the
   * domain's clone record, the files a later sync may write into; a redefine adds them to
   * the record the target has. Absent: the files the rewritten definition points at.
   */
  createdFiles?: string[];
  /**
   * The source domain whose VNC/SPICE passwords the clone keeps. They are read here, on the
   * worker, right before the define: the XML in history has none (`virsh dumpxml` without
   * `--security-info`), and the XML this activity returns has none either.
   */
  graphicsPasswordsFrom?: { source: HostRef; vmName: string };
}

/** `xml` with the graphics passwords of the source domain, read on the worker; never returned or logged. */
async function withSourcePasswords(deps: ActivityDeps, input: DefineCloneInput, xml: string): Promise<string> {
  const from = input.graphicsPasswordsFrom;
  if (!from) return xml;
  return withGraphicsPasswords(
    xml,
    await withHost(deps, from.source, (source) => new Libvirt(source).securityInfoXml(from.vmName)),
  );
}

/**
 * Whether the domain is there already and is the one this operation means: its UUID is
 * the one the rewrite gives it. A clone's workflow chooses its clone's UUID, so a retry
 * after a define whose reply was lost finds its own domain; a sync's redefine keeps the
 * target's UUID, so the target it inspected is the one it redefines. Any other domain of
 * that name is someone else's: 1004, never adopted (and for a sync, a missing target is 1003).
 */
async function ownDomainExists(libvirt: Libvirt, input: DefineCloneInput, where: string): Promise<boolean> {
  const name = input.rewrite.newName;
  const existing = await libvirt.domainUuid(name);
  if (existing === undefined) {
    if (input.redefine)
      throw new KvmCloneError(ErrorCode.VM_NOT_FOUND_ERROR, `the sync target '${name}' is gone from ${where}`, {
        vmName: name,
        host: where,
      });
    return false;
  }
  if (input.rewrite.uuid === undefined || existing !== input.rewrite.uuid.toLowerCase()) {
    throw new KvmCloneError(
      ErrorCode.VM_EXISTS_ERROR,
      input.redefine
        ? `'${name}' on ${where} is no longer the target this sync inspected (UUID ${existing}, expected ${input.rewrite.uuid ?? 'none'}); nothing was redefined`
        : `a VM named '${name}' (UUID ${existing}) appeared on ${where} that this clone did not define; it is left as it is`,
      { vmName: name, host: where, uuid: existing },
    );
  }
  return true;
}

export function defineClone(deps: ActivityDeps) {
  /** Defines the clone on the destination from the source's rewritten XML, and starts it if asked. */
  return async function defineClone(input: DefineCloneInput): Promise<{ xml: string }> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        // The record of the files the clone made travels inside the definition, so the domain never exists without it.
        const xml = withCloneRecord(
          rewriteDomainForClone(input.sourceXml, input.rewrite),
          await recordForDefine(session, input),
        );
        // The XML as it will be defined: nothing in it may reach the destination beyond what the operator allows.
        enforceDomainPolicy(
          xml,
          { policy: deps.policy, writableRoots: writableRoots(session.host) },
          input.rewrite.newName,
        );
        const defined = await withSourcePasswords(deps, input, xml);
        const libvirt = new Libvirt(session);
        if (await ownDomainExists(libvirt, input, describeHost(session.host))) {
          if (input.redefine) await libvirt.define(defined);
        } else {
          await libvirt.define(defined);
        }
        if (input.start && (await libvirt.domainState(input.rewrite.newName)) !== 'running')
          await libvirt.start(input.rewrite.newName);
        return { xml };
      }),
    );
  };
}

export interface RemoveDefinedCloneInput {
  destination: HostRef;
  vmName: string;
  /** The UUID the clone was defined with: a domain of that name with another UUID is not this clone. */
  uuid: string;
}

export function removeDefinedClone(deps: ActivityDeps) {
  /**
   * Undoes defineClone: stops and undefines the clone, but only when the domain of that
   * name is the one this operation defined. A define refused because someone else's VM
   * holds the name must not make the cleanup remove that VM.
   */
  return async function removeDefinedClone(input: RemoveDefinedCloneInput): Promise<void> {
    return activityBody(() =>
      withHost(deps, input.destination, async (session) => {
        const libvirt = new Libvirt(session);
        if ((await libvirt.domainUuid(input.vmName)) !== input.uuid.toLowerCase()) return;
        await libvirt.destroy(input.vmName);
        await libvirt.undefine(input.vmName);
      }),
    );
  };
}
