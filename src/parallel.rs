//! When work is worth spreading over threads (rayon): below this many items, the set-up
//! costs more than the work saves.

/// The fewest items for which a pass over resources runs in parallel.
pub const PARALLEL_MIN: usize = 200;
