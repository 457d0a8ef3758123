/**
 * What replacing a VM (clone with force) does with the old VM's files. Its files at the
 * paths the clone's files take are moved aside under a tagged name before the clone's
 * files are renamed into place, so a failure can move them back; the rest stay where they
 * are. Only once the clone is defined are the moved-aside files and the rest removed.
 */
export interface ReplacementPlan {
  /** Old files the clone's files would overwrite: `from` is the old path, `to` its aside name. */
  moves: { from: string; to: string }[];
  /** What goes once the clone is defined: the aside files and the old VM's other files. */
  removeAfterDefine: string[];
}

/** The name an old VM's file takes while its replacement is defined. */
export function asidePathFor(path: string, operationTag: string): string {
  return `${path}.kvm-clone-${operationTag}.replaced`;
}

/**
 * @param replacedPaths the old VM's files that the clone may delete (preflight's narrowed list)
 * @param clonePaths the final paths of the clone's files
 */
export function planReplacement(
  replacedPaths: readonly string[],
  clonePaths: readonly string[],
  operationTag: string,
): ReplacementPlan {
  const taken = new Set(clonePaths);
  const unique = [...new Set(replacedPaths)];
  const moves = unique
    .filter((path) => taken.has(path))
    .map((from) => ({ from, to: asidePathFor(from, operationTag) }));
  const kept = unique.filter((path) => !taken.has(path));
  return { moves, removeAfterDefine: [...moves.map((move) => move.to), ...kept] };
}
