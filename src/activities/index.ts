import { checkDestination } from './check-destination';
import { defineClone, removeDefinedClone } from './define-clone';
import { acquireDestinationLock, releaseDestinationLock } from './destination-lock';
import type { ActivityDeps } from './deps';
import { finalizeFiles } from './finalize-files';
import { freezeSource } from './freeze-source';
import { inspectSource } from './inspect-source';
import { inspectTarget } from './inspect-target';
import { liveMigrate } from './live-migrate';
import { mapFiles } from './map-files';
import { mergeSource } from './merge-source';
import { notify } from './notify';
import { pauseSource, resumeSource } from './pause-source';
import { prepareDisks } from './prepare-disks';
import { recheckSource } from './recheck-source';
import { recordCheckpoint } from './record-checkpoint';
import { redefineTarget } from './redefine-target';
import { removeClone } from './remove-clone';
import { removeFiles } from './remove-files';
import { removeRenamedFiles } from './remove-renamed-files';
import { discardReplacedDomain, restoreDomain, setAsideDomain } from './replace-domain';
import { resizeFiles } from './resize-files';
import { retireSource } from './retire-source';
import { createCheckpoint, removeCheckpoints } from './source-checkpoints';
import { startMigratedVm, stopMigratedVm } from './start-migrated-vm';
import { syncRange } from './sync-range';
import { relinkBackingChains, renameAddedDisks } from './target-files';
import { trackChanges } from './track-changes';
import { transferRange } from './transfer-range';
import { verifyFile } from './verify-file';
import { verifyRange } from './verify-range';

/** The worker's activities, bound to the worker's SSH pool and host registry. */
export function createActivities(deps: ActivityDeps) {
  return {
    inspectSource: inspectSource(deps),
    checkDestination: checkDestination(deps),
    inspectTarget: inspectTarget(deps),
    resizeFiles: resizeFiles(deps),
    syncRange: syncRange(deps),
    createCheckpoint: createCheckpoint(deps),
    trackChanges: trackChanges(deps),
    recordCheckpoint: recordCheckpoint(deps),
    removeCheckpoints: removeCheckpoints(deps),
    prepareDisks: prepareDisks(deps),
    freezeSource: freezeSource(deps),
    mapFiles: mapFiles(deps),
    transferRange: transferRange(deps),
    verifyRange: verifyRange(deps),
    verifyFile: verifyFile(deps),
    mergeSource: mergeSource(deps),
    recheckSource: recheckSource(deps),
    finalizeFiles: finalizeFiles(deps),
    defineClone: defineClone(deps),
    removeClone: removeClone(deps),
    removeDefinedClone: removeDefinedClone(deps),
    removeRenamedFiles: removeRenamedFiles(deps),
    removeFiles: removeFiles(deps),
    renameAddedDisks: renameAddedDisks(deps),
    relinkBackingChains: relinkBackingChains(deps),
    redefineTarget: redefineTarget(deps),
    acquireDestinationLock: acquireDestinationLock(deps),
    releaseDestinationLock: releaseDestinationLock(deps),
    setAsideDomain: setAsideDomain(deps),
    restoreDomain: restoreDomain(deps),
    discardReplacedDomain: discardReplacedDomain(deps),
    pauseSource: pauseSource(deps),
    resumeSource: resumeSource(deps),
    startMigratedVm: startMigratedVm(deps),
    stopMigratedVm: stopMigratedVm(deps),
    retireSource: retireSource(deps),
    liveMigrate: liveMigrate(deps),
    notify: notify(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export { createActivityDeps, type ActivityDeps } from './deps';
