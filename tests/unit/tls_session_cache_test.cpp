#include "listener/tls_session_cache.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace easgate::listener {
namespace {

using Bytes = std::vector<unsigned char>;

// A pre_shared_key extension as a client writes it: the identities (each with a ticket age), then
// one 32-byte binder per identity.
Bytes extension(const std::vector<Bytes>& identities) {
    Bytes out;
    const auto put = [&out](std::size_t value, int bytes) {
        for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8)
            out.push_back(static_cast<unsigned char>(value >> shift));
    };
    std::size_t list = 0;
    for (const auto& identity : identities) list += 2 + identity.size() + 4;
    put(list, 2);
    for (const auto& identity : identities) {
        put(identity.size(), 2);
        for (const unsigned char byte : identity) out.push_back(byte);
        put(0x1000, 4);  // obfuscated_ticket_age
    }
    put(identities.size() * 33, 2);
    for (std::size_t i = 0; i < identities.size(); ++i) {
        put(32, 1);
        for (int b = 0; b < 32; ++b) out.push_back(0xbb);
    }
    return out;
}

Bytes session_id(unsigned char first) {
    Bytes id(32, 0x5a);
    id[0] = first;
    return id;
}

TEST(OfferedSessionId, OneSessionIdIsRead) {
    const auto id = offered_session_id(extension({session_id(0x83)}));
    ASSERT_TRUE(id);
    EXPECT_EQ(Bytes(id->begin(), id->end()), session_id(0x83));
}

// Which of several the handshake resumed is not known: none is dropped.
TEST(OfferedSessionId, SeveralIdentitiesAreNotRead) {
    EXPECT_FALSE(offered_session_id(extension({session_id(1), session_id(2)})));
}

TEST(OfferedSessionId, AnIdentityOfAnotherSizeIsNoSessionId) {
    EXPECT_FALSE(offered_session_id(extension({Bytes(48, 1)})));  // a stateless ticket's size
    EXPECT_FALSE(offered_session_id(extension({Bytes(31, 1)})));
    EXPECT_FALSE(offered_session_id(extension({Bytes(1, 1)})));
}

// The bytes are the device's: every cut and every lying length is refused, not read past.
TEST(OfferedSessionId, TruncatedOrLyingExtensionsAreRefused) {
    const auto good = extension({session_id(7)});
    for (std::size_t length = 0; length < 2 + 2 + 32 + 4; ++length)
        EXPECT_FALSE(offered_session_id({good.data(), length})) << length;
    auto longer_list = good;
    longer_list[1] += 1;  // identities claim a byte more than the identity holds
    EXPECT_FALSE(offered_session_id(longer_list));
    auto longer_id = good;
    longer_id[3] += 1;  // the identity claims a byte more
    EXPECT_FALSE(offered_session_id(longer_id));
    auto huge = good;
    huge[0] = huge[2] = 0xff;
    EXPECT_FALSE(offered_session_id(huge));
}

}  // namespace
}  // namespace easgate::listener
