import type { HostRef } from '../domain/schemas/host';

/** A short label for results and messages: the alias, or user@address[:port]. */
export function hostLabel(ref: HostRef): string {
  return typeof ref === 'string' ? ref : `${ref.user}@${ref.address}${ref.port === 22 ? '' : `:${ref.port}`}`;
}
