/**
 * bench/gc-survival.ts reads V8's `--trace-gc-nvp` lines: a scavenge's pause, what it found allocated,
 * what survived and what it promoted; every other line (a mark-compact, the request log) is not a scavenge.
 */
import { parseScavenge } from '../../bench/gc-survival';

const SCAVENGE = '[1234:0x5678]       56 ms: pause=1.1 mutator=47.0 gc=s reduce_memory=0 time_to_safepoint=0.00 heap.prologue=0.00 heap.epilogue=0.00 heap.epilogue.reduce_new_space=0.00 heap.external.prologue=0.00 heap.external.epilogue=0.00 heap.external_weak_global_handles=0.00 fast_promote=0.00 complete.sweep_array_buffers=0.00 scavenge=0.96 scavenge.free_remembered_set=0.00 scavenge.roots=0.07 scavenge.weak=0.00 scavenge.weak_global_handles.identify=0.00 scavenge.weak_global_handles.process=0.00 scavenge.parallel=0.85 scavenge.update_refs=0.00 scavenge.sweep_array_buffers=0.01 background.scavenge.parallel=0.00 background.unmapper=0.00 unmapper=0.00 incremental.steps_count=0 incremental.steps_took=0.0 scavenge_throughput=811280 total_size_before=4938208 total_size_after=4575504 holes_size_before=104 holes_size_after=104 allocated=4938208 promoted=0 new_space_survived=466456 nodes_died_in_new=0 nodes_copied_in_new=14 nodes_promoted=0 promotion_ratio=0.0% average_survival_ratio=54.4% promotion_rate=0.0% new_space_survive_rate_=54.4% new_space_allocation_throughput=0.0 unmapper_chunks=0';

describe('gc-survival: --trace-gc-nvp lines', () => {
  it('reads a scavenge line (Node 20, as V8 prints it)', () => {
    expect(parseScavenge(SCAVENGE)).toEqual({ pause: 1.1, allocated: 4938208, survived: 466456, promoted: 0 });
  });

  it('ignores a mark-compact and any other line', () => {
    expect(parseScavenge(SCAVENGE.replace('gc=s ', 'gc=mc '))).toBeUndefined();
    expect(parseScavenge('{"level":"INFO","message":"request","gc=s":1}')).toBeUndefined();
    expect(parseScavenge('')).toBeUndefined();
  });
});
