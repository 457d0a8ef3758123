import { Option } from 'commander';

/** Commander's collector for repeatable options. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function repeatable(flags: string, description: string): Option {
  return new Option(flags, description).argParser(collect);
}

// Options both operations take, so `schedule create` can offer each one once. The short flags are the original
// tool's (-n, -f, -p, -t, -b), so its users' scripts keep working.
const shared = (verb: string): Option[] => [
  new Option('-p, --parallel <n>', `ranges ${verb} at once, across all disks (default 4)`),
  new Option('--compress', 'compress on the wire with zstd or lz4, when both hosts have it'),
  new Option('--verify', 'compare SHA-256 digests computed on each host (default)').hideHelp(),
  new Option('--no-verify', 'skip the digest comparison'),
  new Option('--preserve-mac', "keep the source's MAC addresses"),
  new Option('-b, --bandwidth-limit <rate>', 'cap the transfer rate, e.g. 100M (per second, K = 1024)'),
  new Option(
    '--relay',
    'carry the data through the worker even when the config has a direct route (hosts.<source>.direct.<dest>)',
  ),
  repeatable(
    '--notify <url>',
    'also POST the outcome to this URL, unsigned; the worker calls it only under its policy.webhookUrls (repeatable; besides notifications.webhooks)',
  ),
];

/** The clone command's options, one per cloneVM input field. */
export function cloneOptions(): Option[] {
  return [
    new Option('-n, --new-name <name>', 'name of the copy (default: <vm>_clone)'),
    new Option('--dest-dir <dir>', "directory for the disks on the destination (default: the host's storageDir)"),
    new Option('--dest-pool <pool>', 'put the disks in this directory-type storage pool on the destination'),
    new Option('-f, --force', 'replace a destination VM of the same name, once the copy is verified'),
    new Option('--dry-run', 'print the plan and change nothing'),
    ...shared('copied'),
    new Option('--timeout <seconds>', 'give up and clean up after this many seconds (default 3600)'),
    new Option('--start', 'start the copy once it is defined'),
    repeatable(
      '--network-map <src=dst>',
      'attach interfaces on network or bridge SRC to DST on the destination (repeatable)',
    ),
    new Option('--copy-cdroms', 'copy CD-ROM images too'),
    repeatable('--exclude-disk <target>', 'leave this disk (e.g. vdb) out of the copy (repeatable)'),
    new Option('--flatten', 'merge a backing chain into one image on the destination'),
  ];
}

/** The sync command's options, one per syncVM input field. */
export function syncOptions(): Option[] {
  return [
    new Option('-t, --target-name <name>', 'the copy on the destination to update (default: the VM name)'),
    new Option('--delta', 'send only the blocks that differ (default)').hideHelp(),
    new Option('--no-delta', 'clear and re-copy every disk instead of comparing blocks'),
    new Option('--checkpoint', 'track changes with libvirt checkpoints on a running source'),
    new Option('--full-verify', 'with --checkpoint, still compare whole-file digests, not only the ranges synced'),
    ...shared('synced'),
    new Option(
      '--timeout <seconds>',
      'give up after this many seconds; the target stays marked incomplete (default 7200)',
    ),
  ];
}

/**
 * The migrate command's options, one per migrateVM input field. No --preserve-mac: a
 * migration always keeps the source's MACs (and UUID), since the copy replaces it.
 */
export function migrateOptions(): Option[] {
  return [
    new Option('-n, --new-name <name>', "name of the VM on the destination (default: the source's name)"),
    new Option('--dest-dir <dir>', "directory for the disks on the destination (default: the host's storageDir)"),
    new Option(
      '--mode <mode>',
      "warm: copy, sync, pause briefly; live: libvirt's live migration over the configured direct route (default warm)",
    ).choices(['warm', 'live']),
    new Option(
      '--max-downtime <seconds>',
      'seconds the VM may be down at the cutover: syncs repeat until the last took no longer (default 10)',
    ),
    new Option(
      '--max-passes <n>',
      'sync passes before the cutover at most; a migration that needs more fails, the source still running (default 8)',
    ),
    new Option(
      '--cutover-at <time>',
      'cut over not before this time, ISO 8601 with a zone (e.g. 2026-12-24T02:00:00Z), keeping the copy in step until then',
    ),
    new Option('--hold', 'wait for `kvm-clone cutover ID` before the cutover, keeping the copy in step meanwhile'),
    new Option('--sync-interval <seconds>', 'seconds between syncs while the cutover waits (default 60)'),
    new Option('--keep-source', 'keep the source defined, stopped with autostart off, instead of undefining it'),
    ...shared('copied').filter((option) => option.long !== '--preserve-mac'),
    new Option(
      '--timeout <seconds>',
      'give up after this many seconds, waiting included, leaving the source running (default 86400)',
    ),
  ];
}

export function detachOption(): Option {
  return new Option('--detach', 'print the operation id and return at once');
}
