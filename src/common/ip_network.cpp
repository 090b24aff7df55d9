#include "easgate/common/ip_network.hpp"

#include <algorithm>
#include <charconv>
#include <string>

namespace easgate::common {
namespace {

using boost::asio::ip::address;

constexpr unsigned mapped_v4_bits = 96;  // ::ffff:0:0/96 is the IPv4 space

std::array<std::uint8_t, 16> as_v6_bytes(const address& ip) {
    if (ip.is_v6()) return ip.to_v6().to_bytes();
    return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, ip.to_v4()).to_bytes();
}

// Whether the first `bits` bits of a and b are the same.
bool same_prefix(const std::array<std::uint8_t, 16>& a, const std::array<std::uint8_t, 16>& b,
                 unsigned bits) {
    for (unsigned i = 0; i < bits / 8; ++i) {
        if (a[i] != b[i]) return false;
    }
    if (bits % 8 == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - bits % 8));
    return (a[bits / 8] & mask) == (b[bits / 8] & mask);
}

}  // namespace

std::optional<IpNetwork> IpNetwork::parse(std::string_view text) {
    const auto slash = text.find('/');
    boost::system::error_code ec;
    const auto ip = boost::asio::ip::make_address(std::string(text.substr(0, slash)), ec);
    if (ec) return std::nullopt;
    const unsigned length = ip.is_v4() ? 32 : 128;
    unsigned prefix = length;
    if (slash != std::string_view::npos) {
        const auto digits = text.substr(slash + 1);
        const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
        if (digits.empty() || error != std::errc{} || end != digits.data() + digits.size() || prefix > length)
            return std::nullopt;
    }
    if (ip.is_v4()) prefix += mapped_v4_bits;
    const auto bytes = as_v6_bytes(ip);
    // Host bits set: the range would silently be a different one from what was written.
    std::array<std::uint8_t, 16> network{};
    for (unsigned bit = 0; bit < prefix; ++bit) network[bit / 8] |= bytes[bit / 8] & (0x80 >> (bit % 8));
    if (network != bytes) return std::nullopt;
    return IpNetwork(bytes, prefix);
}

bool IpNetwork::contains(const address& ip) const { return same_prefix(bytes_, as_v6_bytes(ip), prefix_); }

std::string source_key(const address& ip) {
    if (ip.is_v4()) return ip.to_string();
    const auto v6 = ip.to_v6();
    if (v6.is_v4_mapped())
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
    auto network = v6.to_bytes();
    // NAT64 (RFC 6052's well-known prefix): every IPv4 device behind it would share one /64.
    constexpr std::array<std::uint8_t, 12> nat64{0x00, 0x64, 0xff, 0x9b};
    if (std::equal(nat64.begin(), nat64.end(), network.begin()))
        return boost::asio::ip::address_v4({network[12], network[13], network[14], network[15]}).to_string();
    std::fill(network.begin() + 8, network.end(), std::uint8_t{0});
    return boost::asio::ip::make_address_v6(network).to_string() + "/64";
}

}  // namespace easgate::common
