#include "easgate/common/listen_socket.hpp"

#include <charconv>
#include <stdexcept>

namespace easgate::common {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::optional<tcp::endpoint> parse_listen_address(const std::string& text) {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    std::string host = text.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string::npos) {
        return std::nullopt;  // "::1:9443" is ambiguous: IPv6 takes brackets
    }
    unsigned port = 0;
    const auto* end = text.data() + text.size();
    const auto [rest, error] = std::from_chars(text.data() + colon + 1, end, port);
    if (error != std::errc() || rest != end || port > 65535 || colon + 1 == text.size()) return std::nullopt;
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    if (ec) return std::nullopt;
    return tcp::endpoint(address, static_cast<unsigned short>(port));
}

void listen_on(tcp::acceptor& acceptor, const tcp::endpoint& endpoint) {
    boost::system::error_code ec;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        throw std::runtime_error("cannot listen on " + endpoint.address().to_string() + ":" +
                                 std::to_string(endpoint.port()) + ": " + ec.message());
    }
}

}  // namespace easgate::common
