// How common::TlsStream ends: the peer's close_notify, a connection closed or reset without one,
// a peer that stops reading, a timeout and a cancellation, each reported as Asio's ssl::stream
// reports it (the session and the exchange check for these codes).
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <optional>

#include "easgate/common/tls_stream.hpp"
#include "tls_stream_pair.hpp"

namespace easgate::testing {
namespace {

using namespace asio::experimental::awaitable_operators;
using boost::system::error_code;

class TlsStreamEndTest : public ::testing::TestWithParam<int> {
protected:
    // What a read of the stream completes with.
    template <class Stream>
    static asio::awaitable<error_code> read_error(Stream& stream) {
        char byte;
        auto [ec, read] = co_await stream.async_read_some(asio::buffer(&byte, 1), use_nothrow);
        co_return ec;
    }

    // One end shuts down; the other reads the close_notify as eof and answers with its own, which
    // completes the first end's shutdown.
    template <class Closing, class Answering>
    static asio::awaitable<void> expect_orderly_close(Closing& closing, Answering& answering) {
        std::optional<error_code> closed;
        closing.async_shutdown([&](error_code ec) { closed = ec; });
        EXPECT_EQ(co_await read_error(answering), asio::error::eof);
        EXPECT_FALSE(closed) << "the shutdown ended before the peer's close_notify";
        auto [answered] = co_await answering.async_shutdown(use_nothrow);
        EXPECT_FALSE(answered) << answered.message();
        EXPECT_TRUE(co_await eventually([&] { return closed.has_value(); }));
        EXPECT_EQ(closed, error_code{});
    }

    asio::io_context context_;
    TlsContexts tls_{GetParam()};
};

TEST_P(TlsStreamEndTest, ReportsTruncationWhenThePeerClosesWithoutCloseNotify) {
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto [server, device] = co_await tls_pair<TlsStream, AsioTlsStream>(tls_);
        // Unread bytes (TLS 1.3's tickets) would make the close a reset.
        co_await asio::async_write(server, asio::buffer(std::string("x")), asio::use_awaitable);
        co_await read_exactly(device, 1);
        beast::get_lowest_layer(device).close();
        EXPECT_EQ(co_await read_error(server), asio::ssl::error::stream_truncated);
    });
}

TEST_P(TlsStreamEndTest, ReportsTheEndOfTheStreamAfterCloseNotifyAndAnswersIt) {
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto [server, device] = co_await tls_pair<TlsStream, AsioTlsStream>(tls_);
        co_await expect_orderly_close(device, server);
    });
}

TEST_P(TlsStreamEndTest, ShutsDownOnceThePeerAnswersItsCloseNotify) {
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto [server, client] = co_await tls_pair<AsioTlsStream, TlsStream>(tls_);
        co_await expect_orderly_close(client, server);
    });
}

TEST_P(TlsStreamEndTest, ReportsAResetConnection) {
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto [server, device] = co_await tls_pair<TlsStream, AsioTlsStream>(tls_);
        auto& socket = beast::get_lowest_layer(device).socket();
        socket.set_option(asio::socket_base::linger(true, 0));  // close() resets the connection
        socket.close();
        EXPECT_EQ(co_await read_error(server), asio::error::connection_reset);
    });
}

TEST_P(TlsStreamEndTest, CancellingTheSocketAbortsAPendingRead) {
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto streams = co_await tls_pair<TlsStream, AsioTlsStream>(tls_);
        auto& server = streams.first;  // captured below: clang 14 can't capture a structured binding
        auto& device = streams.second;
        asio::post(context_, [&server] { server.next_layer().socket().cancel(); });
        EXPECT_EQ(co_await read_error(server), asio::error::operation_aborted);
        // The stream goes on: the watch on a device is cancelled between requests.
        co_await asio::async_write(device, asio::buffer(std::string("next")), asio::use_awaitable);
        EXPECT_EQ(co_await read_exactly(server, 4), "next");
        asio::post(context_, [&server] { server.next_layer().cancel(); });
        EXPECT_EQ(co_await read_error(server), asio::error::operation_aborted);
    });
}

TEST_P(TlsStreamEndTest, TimesOutAReadThatGetsNothing) {
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto [server, device] = co_await tls_pair<TlsStream, AsioTlsStream>(tls_);
        server.next_layer().expires_after(std::chrono::milliseconds(100));
        EXPECT_EQ(co_await read_error(server), beast::error::timeout);
    });
}

// A device that stops reading a large answer: what its socket can't take waits in the stream
// until the tcp_stream's deadline, which ends the write.
TEST_P(TlsStreamEndTest, TimesOutAWriteThePeerDoesNotRead) {
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto [server, device] = co_await tls_pair<TlsStream, AsioTlsStream>(tls_);
        const std::string answer = pattern(32 << 20);
        server.next_layer().expires_after(std::chrono::milliseconds(500));
        auto [ec, written] = co_await asio::async_write(server, asio::buffer(answer), use_nothrow);
        EXPECT_EQ(ec, beast::error::timeout);
        EXPECT_GT(written, 0u);
        EXPECT_LT(written, answer.size());
    });
}

TEST_P(TlsStreamEndTest, FailsTheHandshakeOfADeviceWithoutCertificate) {
    tls_.client = asio::ssl::context(asio::ssl::context::tls_client);
    tls_.client.load_verify_file(loopback_pki().server_ca.string());
    SSL_CTX_set_max_proto_version(tls_.client.native_handle(), GetParam());
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto [server_end, client_end] =
            co_await handshake_errors<TlsStream, AsioTlsStream>(tls_, "127.0.0.1");
        EXPECT_EQ(server_end.category(), asio::error::get_ssl_category()) << server_end.message();
        EXPECT_NE(server_end.message().find("peer did not return a certificate"), std::string::npos)
            << server_end.message();
    });
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsStreamEndTest, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         tls_version_name);

}  // namespace
}  // namespace easgate::testing
