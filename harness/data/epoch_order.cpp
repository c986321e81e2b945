#include "data/epoch_order.h"

#include "data/random.h"

namespace scalelock {

namespace {
constexpr uint64_t kEpochStream = 0x45504F4348ULL;  // "EPOCH"
}  // namespace

EpochOrder::EpochOrder(int64_t pool_size, uint64_t seed)
    : pool_size_(pool_size), seed_(seed) {}

int64_t EpochOrder::SampleAt(int64_t position) {
  const int64_t epoch = position / pool_size_;
  if (epoch != cached_epoch_) {
    SplitMix64 rng(SeedFor(seed_, kEpochStream, static_cast<uint64_t>(epoch)));
    cached_order_ = RandomPermutation(pool_size_, &rng);
    cached_epoch_ = epoch;
  }
  return cached_order_[static_cast<size_t>(position % pool_size_)];
}

}  // namespace scalelock
