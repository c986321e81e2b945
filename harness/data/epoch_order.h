// Order in which a fixed pool of training samples is visited.
//
// Position g of the training stream (g = batch_index * batch_size + row) maps
// to sample Permutation(epoch)[g % pool_size] with epoch = g / pool_size, and
// each epoch's permutation is drawn from its own counter-based seed. The map
// is therefore a pure function of (pool_size, seed, g), independent of the
// order in which batches are requested. Not thread-safe (caches one epoch).
#pragma once

#include <cstdint>
#include <vector>

namespace scalelock {

class EpochOrder {
 public:
  // pool_size >= 1 samples, shuffled per epoch from seed.
  EpochOrder(int64_t pool_size, uint64_t seed);

  // Index in [0, pool_size) of the sample at stream position `position` >= 0.
  int64_t SampleAt(int64_t position);

 private:
  int64_t pool_size_;                  // number of samples in the pool
  uint64_t seed_;                      // seed of the per-epoch permutations
  int64_t cached_epoch_ = -1;          // epoch whose permutation is in cached_order_
  std::vector<int64_t> cached_order_;  // permutation of 0..pool_size-1
};

}  // namespace scalelock
