#pragma once

#include <array>
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace easgate::common {

// An address range in CIDR notation ("10.0.0.0/8", "2001:db8::/32"), or one address without a
// prefix. An IPv4 range also holds IPv4-mapped IPv6 addresses (::ffff:10.1.2.3), which is how a
// device looks on a listener bound to "::".
class IpNetwork {
public:
    // Refuses a prefix beyond the address's length and host bits below it ("10.1.0.0/8"): written so,
    // the operator most likely meant another range.
    static std::optional<IpNetwork> parse(std::string_view text);

    bool contains(const boost::asio::ip::address& address) const;

private:
    IpNetwork(const std::array<std::uint8_t, 16>& bytes, unsigned prefix) : bytes_(bytes), prefix_(prefix) {}

    std::array<std::uint8_t, 16> bytes_;  // IPv4 as IPv4-mapped IPv6
    unsigned prefix_;                     // of the 128 bits
};

// What connections from one source are counted by: an IPv4 address (also IPv4-mapped, or behind
// NAT64's 64:ff9b::/96), or an IPv6 /64, which is one subscriber's network (a carrier gives each
// phone a /64 of its own, and anyone with one holds 2^64 addresses).
std::string source_key(const boost::asio::ip::address& address);

}  // namespace easgate::common
