#pragma once

#include <span>

namespace easgate::delegation {

// Fills out with random bytes for a token (its subkey, sequence number and confounder): from a
// per-thread buffer that OpenSSL's generator refills 4 KiB at a time. One RAND_bytes call costs
// about 6,000 instructions whatever its size (the DRBG's locking and its rekeying after each call),
// and a token needs about 50 bytes. Bytes are wiped from the buffer as they are handed out. As
// BoringSSL's fork-unsafe buffering, this assumes the process does not fork once it makes tokens
// (easgate never forks). False if OpenSSL's generator fails.
bool token_random(std::span<unsigned char> out);

}  // namespace easgate::delegation
