#include "easgate/common/tcp_keepalive.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace easgate::common {

void keep_probing(boost::asio::ip::tcp::socket& socket, boost::system::error_code& ec) {
    socket.set_option(boost::asio::socket_base::keep_alive(true), ec);
    if (ec) return;
    const int fd = socket.native_handle();
    const int settings[][2] = {{TCP_KEEPIDLE, static_cast<int>(keepalive_idle.count())},
                               {TCP_KEEPINTVL, static_cast<int>(keepalive_interval.count())},
                               {TCP_KEEPCNT, keepalive_probes}};
    for (const auto& [option, value] : settings) {
        if (::setsockopt(fd, IPPROTO_TCP, option, &value, sizeof value) != 0) {
            ec.assign(errno, boost::system::system_category());
            return;
        }
    }
}

}  // namespace easgate::common
