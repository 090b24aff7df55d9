#pragma once

// The deterministic corpus tests' mutations: flip the lowest bit, the top bit, every bit, plus
// random masks per byte, from one fixed seed so that a failure repeats.
#include <cstdint>
#include <iterator>
#include <random>
#include <vector>

namespace easgate::testing::corpus {

inline constexpr std::uint32_t seed = 20240611;
inline constexpr std::uint8_t fixed_masks[] = {0x01, 0x80, 0xff};

// Every mask to apply at one position: the fixed ones and `random_masks` drawn from random.
inline std::vector<std::uint8_t> masks_for_position(std::mt19937& random, int random_masks = 1) {
    std::vector<std::uint8_t> masks(std::begin(fixed_masks), std::end(fixed_masks));
    for (int i = 0; i < random_masks; ++i)
        masks.push_back(static_cast<std::uint8_t>(std::uniform_int_distribution<int>(1, 255)(random)));
    return masks;
}

}  // namespace easgate::testing::corpus
