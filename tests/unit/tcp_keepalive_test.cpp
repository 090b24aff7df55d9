// Connections to Exchange probe an idle peer within a minute, so a firewall between easgate and
// Exchange keeps a held Ping's flow.
#include "easgate/common/tcp_keepalive.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>

namespace easgate::common {
namespace {

int tcp_option_of(int fd, int level, int option) {
    int value = -1;
    socklen_t size = sizeof value;
    EXPECT_EQ(::getsockopt(fd, level, option, &value, &size), 0) << option;
    return value;
}

TEST(TcpKeepalive, ProbesStartAfterAMinuteOfSilence) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    socket.open(boost::asio::ip::tcp::v4());
    ASSERT_EQ(tcp_option_of(socket.native_handle(), SOL_SOCKET, SO_KEEPALIVE), 0) << "off until asked";

    boost::system::error_code ec;
    keep_probing(socket, ec);
    ASSERT_FALSE(ec) << ec.message();
    const int fd = socket.native_handle();
    EXPECT_EQ(tcp_option_of(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
    EXPECT_EQ(tcp_option_of(fd, IPPROTO_TCP, TCP_KEEPIDLE), 60);
    EXPECT_EQ(tcp_option_of(fd, IPPROTO_TCP, TCP_KEEPINTVL), 15);
    EXPECT_EQ(tcp_option_of(fd, IPPROTO_TCP, TCP_KEEPCNT), 4);
}

TEST(TcpKeepalive, AClosedSocketSaysWhy) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket socket(io);
    boost::system::error_code ec;
    keep_probing(socket, ec);
    EXPECT_TRUE(ec);
}

}  // namespace
}  // namespace easgate::common
