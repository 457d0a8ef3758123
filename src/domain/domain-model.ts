/** What kvm-clone reads from a libvirt domain document: plain data, no XML. */

export interface DomainDisk {
  /** Guest device name, e.g. `vda`: the disk's identity inside the domain. */
  target: string;
  /** `disk`, `cdrom`, `floppy` or `lun`. */
  device: string;
  /** `file`, `block`, `volume`, `network`, `dir` or `nvme`. */
  type: string;
  format?: string;
  /**
   * The host path for file, block and dir disks. A volume disk has none until the caller resolves it (`virsh
   * vol-path`).
   */
  sourcePath?: string;
  /** Storage pool and volume of a `type='volume'` disk. */
  pool?: string;
  volume?: string;
  readonly: boolean;
  /**
   * Formats of the layers below the top, top down, as the XML's `<backingStore>` chain
   * declares them (undefined where it does not): a fallback for overlays that do not
   * record their backing format, since formats are never probed.
   */
  backingFormats?: (string | undefined)[];
}

export interface DomainInterface {
  type: string;
  mac?: string;
  /** Network, bridge or device name, by interface type. */
  source?: string;
}

export interface DomainTpm {
  /** `tpm-tis`, `tpm-crb`, …; absent means libvirt's default. */
  model?: string;
  /**
   * `emulator` (swtpm: libvirt keeps its state on the host under a directory named by the
   * domain's UUID), `passthrough` or `external`.
   */
  backend: string;
  /** `1.2` or `2.0`; absent means libvirt's default. */
  version?: string;
}

export interface DomainSummary {
  name: string;
  uuid?: string;
  domainType: string;
  arch?: string;
  machine?: string;
  emulator?: string;
  /** `<os firmware='efi'>`: libvirt picks loader and NVRAM template itself. */
  firmware?: string;
  /** Firmware image, e.g. OVMF_CODE.fd: shared read-only, never copied. */
  loaderPath?: string;
  /** The domain's own UEFI variable store: a per-VM file the clone needs a copy of. */
  nvramPath?: string;
  /** Where libvirt creates the variable store from if the file is missing. */
  nvramTemplate?: string;
  /** The first TPM device. */
  tpm?: DomainTpm;
  disks: DomainDisk[];
  interfaces: DomainInterface[];
  /** Files the domain writes its serial or console output to. */
  logFiles: string[];
}
