#include "token_random.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace easgate::delegation {
namespace {

struct ThreadRandom {
    std::array<unsigned char, 4096> bytes{};
    std::size_t used = bytes.size();  // bytes[used..] not handed out yet

    ThreadRandom() = default;
    ThreadRandom(const ThreadRandom&) = delete;
    ThreadRandom& operator=(const ThreadRandom&) = delete;
    ~ThreadRandom() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

}  // namespace

bool token_random(std::span<unsigned char> out) {
    thread_local ThreadRandom random;
    while (!out.empty()) {
        if (random.used == random.bytes.size()) {
            if (RAND_bytes(random.bytes.data(), static_cast<int>(random.bytes.size())) != 1) return false;
            random.used = 0;
        }
        const std::size_t take = std::min(out.size(), random.bytes.size() - random.used);
        unsigned char* from = random.bytes.data() + random.used;
        std::memcpy(out.data(), from, take);
        OPENSSL_cleanse(from, take);
        random.used += take;
        out = out.subspan(take);
    }
    return true;
}

}  // namespace easgate::delegation
