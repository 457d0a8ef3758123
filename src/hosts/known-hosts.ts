import { createHmac } from 'node:crypto';

/** One usable line of an OpenSSH known_hosts file. */
interface KnownHostEntry {
  hostPatterns: string[];
  hashed?: { salt: Buffer; hash: Buffer };
  keyType: string;
  key: Buffer;
  revoked: boolean;
}

/** How OpenSSH names a host in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(address: string, port: number): string {
  // OpenSSH lowercases names before writing or hashing them.
  const bare = address.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return port === 22 ? bare : `[${bare}]:${port}`;
}

type Marker = 'revoked' | 'cert-authority' | undefined;

/** Each usable line with its marker; lines with other markers are left out. */
function parseMarkedLines(text: string): { marker: Marker; entry: KnownHostEntry }[] {
  const lines: { marker: Marker; entry: KnownHostEntry }[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: Marker;
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') {
      marker = fields.shift()!.slice(1) as Marker;
    } else if (fields[0]?.startsWith('@')) {
      continue;
    }
    const [hosts, keyType, keyBase64] = fields;
    if (!hosts || !keyType || !keyBase64) continue;
    const entry: KnownHostEntry = {
      hostPatterns: [],
      keyType,
      key: Buffer.from(keyBase64, 'base64'),
      revoked: marker === 'revoked',
    };
    if (hosts.startsWith('|1|')) {
      const [, , salt, hash] = hosts.split('|');
      entry.hashed = { salt: Buffer.from(salt ?? '', 'base64'), hash: Buffer.from(hash ?? '', 'base64') };
    } else {
      entry.hostPatterns = hosts.split(',');
    }
    lines.push({ marker, entry });
  }
  return lines;
}

/** The host keys of a known_hosts text, @revoked ones marked; @cert-authority lines are not host keys. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  return parseMarkedLines(text)
    .filter(({ marker }) => marker !== 'cert-authority')
    .map(({ entry }) => entry);
}

function globToRegExp(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`, 'i');
}

function entryNamesHost(entry: KnownHostEntry, name: string): boolean {
  if (entry.hashed) {
    const digest = createHmac('sha1', entry.hashed.salt).update(name).digest();
    return digest.equals(entry.hashed.hash);
  }
  let matched = false;
  for (const pattern of entry.hostPatterns) {
    if (pattern.startsWith('!')) {
      if (globToRegExp(pattern.slice(1)).test(name)) return false;
    } else if (globToRegExp(pattern).test(name)) {
      matched = true;
    }
  }
  return matched;
}

/** The key type inside an SSH wire-format public key blob, e.g. `ssh-ed25519`. */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return '';
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString('latin1');
}

export type HostKeyVerdict = 'trusted' | 'unknown' | 'changed' | 'revoked';

/**
 * Checks a host's presented key against known_hosts. A host known only with other key
 * types is `unknown` for this type (as OpenSSH sees it); a different key of the same
 * type is `changed`, which no policy accepts.
 */
export function verifyHostKey(
  knownHostsText: string,
  address: string,
  port: number,
  presented: Buffer,
): HostKeyVerdict {
  const name = knownHostsName(address, port);
  const entries = parseKnownHosts(knownHostsText).filter((entry) => entryNamesHost(entry, name));
  if (entries.some((entry) => entry.revoked && entry.key.equals(presented))) return 'revoked';
  if (entries.some((entry) => !entry.revoked && entry.key.equals(presented))) return 'trusted';
  const presentedType = keyTypeOfBlob(presented);
  if (entries.some((entry) => !entry.revoked && entry.keyType === presentedType)) return 'changed';
  return 'unknown';
}

export function knownHostsLine(address: string, port: number, key: Buffer): string {
  return `${knownHostsName(address, port)} ${keyTypeOfBlob(key)} ${key.toString('base64')}\n`;
}

/**
 * Whether a @cert-authority line covers this host. OpenSSH would then accept a host
 * certificate signed by that CA; ssh2 negotiates no certificate host-key algorithms, so
 * kvm-clone cannot, and says so when such a host's plain key is unknown.
 */
export function hasCertAuthorityFor(knownHostsText: string, address: string, port: number): boolean {
  const name = knownHostsName(address, port);
  return parseMarkedLines(knownHostsText).some(
    ({ marker, entry }) => marker === 'cert-authority' && entryNamesHost(entry, name),
  );
}
