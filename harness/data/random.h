// Counter-based random numbers for the tasks.
//
// Every random draw of a task comes from a SplitMix64 generator whose state is
// derived from (seed, stream, counter) by SeedFor, so a sample or a shuffled
// epoch can be generated without generating the ones before it. The mixing
// and the sampling functions are written out here, not taken from <random>,
// because std::uniform_int_distribution and std::normal_distribution differ
// between standard libraries and the tasks must reproduce across builds.
#pragma once

#include <cmath>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

namespace scalelock {

// SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
// generators", OOPSLA 2014): 64-bit state, period 2^64.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t state) : state_(state) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // Uniform integer in [0, bound), bound >= 1; rejection removes modulo bias.
  uint64_t Below(uint64_t bound) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t value = Next();
    while (value >= limit)
      value = Next();
    return value % bound;
  }

  // Uniform double in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // +1 or -1 with probability 1/2 each.
  int Sign() { return (Next() >> 63) ? 1 : -1; }

  // Standard normal draw (Box-Muller, one value per call).
  double Normal() {
    const double u1 = 1.0 - Uniform();  // in (0, 1], so log(u1) is finite
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t state_;  // advanced by the golden-ratio increment per draw
};

// Generator state for item `counter` of random stream `stream` under `seed`.
// Distinct (seed, stream, counter) triples give unrelated sequences.
inline uint64_t SeedFor(uint64_t seed, uint64_t stream, uint64_t counter) {
  SplitMix64 mixer(seed);
  uint64_t state = mixer.Next() ^ (stream * 0xD1B54A32D192ED03ULL);
  state = SplitMix64(state).Next() ^ (counter * 0x8CB92BA72F3D8DD7ULL);
  return SplitMix64(state).Next();
}

// Random permutation of 0..n-1 (Fisher-Yates).
inline std::vector<int64_t> RandomPermutation(int64_t n, SplitMix64* rng) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng->Below(static_cast<uint64_t>(i) + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

}  // namespace scalelock
