// The annealing's random generator: xoshiro256** seeded by splitmix64, a few cycles per draw,
// and bounded integers by a multiply-shift instead of std::uniform_int_distribution's
// divisions (a proposal draws two or three of them).
#pragma once
#include <cstdint>

namespace genomap {
namespace anneal {

class FastRng {
 public:
  explicit FastRng(uint64_t seed) {
    for (auto& x : s_) {
      seed += 0x9E3779B97F4A7C15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      x = z ^ (z >> 31);
    }
  }
  uint64_t next() {
    const uint64_t r = rotl(s_[1] * 5, 7) * 9, t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return r;
  }
  // Uniform in [0, m) (bias below m / 2^64).
  int64_t below(int64_t m) {
    return static_cast<int64_t>((static_cast<unsigned __int128>(next()) *
                                 static_cast<uint64_t>(m)) >> 64);
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace anneal
}  // namespace genomap
