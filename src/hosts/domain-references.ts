import { pathsNamedIn, qcow2Disks } from '../domain/replaced-files';
import { Libvirt } from './libvirt';
import { RemoteDisk } from './remote-disk';
import type { SshSession } from './ssh-session';

/**
 * Every path the host's other domains depend on: whatever their definitions (persistent,
 * and live for a running one) name, and the backing layers below their qcow2 disks (a VM
 * about to be replaced may be another one's base image). A definition that cannot be read
 * is reported in `unreadDomains` (the caller then cannot vouch for any file); a chain that
 * cannot be followed (a layer missing) in `unreadChains`.
 */
export async function pathsOfOtherDomains(
  session: SshSession,
  except: string,
): Promise<{ paths: string[]; unreadDomains: string[]; unreadChains: string[] }> {
  const libvirt = new Libvirt(session);
  const disk = new RemoteDisk(session);
  const paths = new Set<string>();
  const unreadDomains: string[] = [];
  const unreadChains: string[] = [];
  for (const name of await libvirt.listDomainNames()) {
    if (name === except) continue;
    const xmls: string[] = [];
    try {
      xmls.push(await libvirt.dumpXml(name, { inactive: true }));
      if ((await libvirt.domainState(name)) !== 'shut off') xmls.push(await libvirt.dumpXml(name, { inactive: false }));
    } catch {
      // Undefined while the list was read, most likely; otherwise the caller hears of it.
      if ((await libvirt.domainState(name).catch(() => 'unknown')) !== undefined) unreadDomains.push(name);
      continue;
    }
    for (const xml of xmls) {
      let named: string[];
      try {
        named = pathsNamedIn(xml);
      } catch {
        unreadDomains.push(name);
        continue;
      }
      for (const path of named) paths.add(path);
      for (const top of qcow2Disks(xml)) {
        try {
          for (const layer of await disk.backingChain(top, 'qcow2')) paths.add(layer.path);
        } catch {
          unreadChains.push(top);
        }
      }
    }
  }
  return { paths: [...paths], unreadDomains: [...new Set(unreadDomains)], unreadChains: [...new Set(unreadChains)] };
}
