// common::TlsStream against Asio's ssl::stream and against itself, over loopback, in TLS 1.2 and
// 1.3: handshakes with certificate checks both ways, transfers larger than the socket buffers,
// TLS 1.3's messages after the handshake, session resumption, and what waits unread.
#include "easgate/common/tls_stream.hpp"

#include <gtest/gtest.h>

#include <array>
#include <boost/asio/experimental/awaitable_operators.hpp>

#include "tls_stream_pair.hpp"

namespace easgate::testing {
namespace {

using namespace asio::experimental::awaitable_operators;

class TlsStreamTest : public ::testing::TestWithParam<int> {
protected:
    // Sends `size` bytes from one end and reads them at the other (at the same time, as each end's
    // socket buffer holds far less), a small header and trailer around a large body: the writer
    // gathers small buffers into one record.
    template <class From, class To>
    static asio::awaitable<void> expect_transfer(From& from, To& to, std::size_t size) {
        const std::string header = "header:", body = pattern(size), trailer = ":end";
        const std::array<asio::const_buffer, 3> message{asio::buffer(header), asio::buffer(body),
                                                        asio::buffer(trailer)};
        const auto total = header.size() + body.size() + trailer.size();
        auto [written, received] =
            co_await (asio::async_write(from, message, asio::use_awaitable) && read_exactly(to, total));
        EXPECT_EQ(written, total);
        EXPECT_TRUE(received == header + body + trailer) << "the bytes received differ from those sent";
    }

    asio::io_context context_;
    TlsContexts tls_{GetParam()};
};

TEST_P(TlsStreamTest, HandshakesAsServerAndVerifiesTheDeviceCertificate) {
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto [server, device] = co_await tls_pair<TlsStream, AsioTlsStream>(tls_);
        SSL* ssl = server.native_handle();
        EXPECT_EQ(SSL_version(ssl), GetParam());
        EXPECT_NE(SSL_get0_peer_certificate(ssl), nullptr);
        EXPECT_EQ(SSL_get_verify_result(ssl), X509_V_OK);
        // Each step of the server's handshake waited its turn among the heavy steps: two or more.
        EXPECT_GE(common::HeavySteps::of(context_.get_executor()).steps_run(), 2u);
    });
}

TEST_P(TlsStreamTest, HandshakesAsClientAndVerifiesTheServerName) {
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto [server, client] = co_await tls_pair<AsioTlsStream, TlsStream>(tls_);
        SSL* ssl = client.native_handle();
        EXPECT_EQ(SSL_version(ssl), GetParam());
        EXPECT_EQ(SSL_get_verify_result(ssl), X509_V_OK);
    });
}

TEST_P(TlsStreamTest, RefusesAServerWhoseCertificateNamesAnotherHost) {
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto [server_end, client_end] =
            co_await handshake_errors<AsioTlsStream, TlsStream>(tls_, "192.0.2.1");
        EXPECT_EQ(client_end.category(), asio::error::get_ssl_category()) << client_end.message();
        EXPECT_NE(client_end.message().find("certificate verify failed"), std::string::npos)
            << client_end.message();
        EXPECT_TRUE(server_end) << "the server's handshake succeeded";
    });
}

TEST_P(TlsStreamTest, CarriesLargeTransfersBothWaysWithAsiosStream) {
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto [server, device] = co_await tls_pair<TlsStream, AsioTlsStream>(tls_);
        co_await expect_transfer(server, device, 3 << 20);
        co_await expect_transfer(device, server, 3 << 20);
    });
}

TEST_P(TlsStreamTest, CarriesLargeTransfersBothWaysWithItself) {
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto [server, client] = co_await tls_pair<TlsStream, TlsStream>(tls_);
        co_await expect_transfer(server, client, 3 << 20);
        co_await expect_transfer(client, server, 3 << 20);
        co_await expect_transfer(client, server, 1);
    });
}

// TLS 1.3 moves a connection to new keys when the peer asks: OpenSSL answers with a KeyUpdate of
// its own before the next record it writes. Both directions must go on working after it.
TEST_P(TlsStreamTest, AnswersAKeyUpdateThePeerAsksForWhileReading) {
    if (GetParam() != TLS1_3_VERSION) GTEST_SKIP() << "KeyUpdate is TLS 1.3's";
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto [server, device] = co_await tls_pair<TlsStream, AsioTlsStream>(tls_);
        EXPECT_EQ(SSL_key_update(device.native_handle(), SSL_KEY_UPDATE_REQUESTED), 1);
        co_await asio::async_write(device, asio::buffer(std::string("ping")), asio::use_awaitable);
        EXPECT_EQ(co_await read_exactly(server, 4), "ping");
        co_await expect_transfer(server, device, 100'000);  // the server's answer goes first
        EXPECT_EQ(SSL_get_key_update_type(server.native_handle()), SSL_KEY_UPDATE_NONE) << "not answered";
        co_await expect_transfer(device, server, 100'000);
    });
}

// The session a server gave (in TLS 1.3 as a ticket after the handshake, taken by the first
// read) makes the next handshake an abbreviated one, as upstream.offer_tls_session relies on.
TEST_P(TlsStreamTest, ResumesTheSessionOfAnEarlierConnection) {
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        SSL_SESSION* session = nullptr;
        {
            auto [server, client] = co_await tls_pair<AsioTlsStream, TlsStream>(tls_);
            co_await expect_transfer(server, client, 10);
            session = SSL_get1_session(client.native_handle());
            close_keeping_session(client.native_handle());
            close_keeping_session(server.native_handle());
        }
        if (!session) {
            ADD_FAILURE() << "the first connection left no session";
            co_return;
        }
        auto [server, client] = co_await tls_pair<AsioTlsStream, TlsStream>(tls_, "127.0.0.1", session);
        SSL_SESSION_free(session);
        EXPECT_EQ(SSL_session_reused(client.native_handle()), 1);
        co_await expect_transfer(client, server, 10);
    });
}

// What an idle upstream connection's reusable() asks: bytes that arrived beyond what was read.
TEST_P(TlsStreamTest, TellsWhetherReceivedBytesWaitUnread) {
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto [server, device] = co_await tls_pair<TlsStream, AsioTlsStream>(tls_);
        co_await expect_transfer(device, server, 1);  // TLS 1.3's tickets are behind the client now
        EXPECT_FALSE(server.has_unread_input());
        co_await asio::async_write(device, asio::buffer(pattern(100)), asio::use_awaitable);
        EXPECT_EQ(co_await read_exactly(server, 10), pattern(100).substr(0, 10));
        EXPECT_TRUE(server.has_unread_input());
        EXPECT_EQ(co_await read_exactly(server, 90), pattern(100).substr(10));
        EXPECT_FALSE(server.has_unread_input());
    });
}

// relay_body's writes: done at once while the socket has room, the rest (and what the socket did
// not take) through async_write once the peer reads, every byte once and in order.
TEST_P(TlsStreamTest, WritesNowWhatNeedsNoWaitAndLeavesTheRestToAsyncWrite) {
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto [server, device] = co_await tls_pair<TlsStream, AsioTlsStream>(tls_);
        const std::string small = pattern(5000), large = pattern(8 << 20);
        boost::system::error_code error;
        EXPECT_EQ(server.write_now(asio::buffer(small), error), small.size());
        EXPECT_FALSE(error) << error.message();
        EXPECT_TRUE(server.flushed());
        EXPECT_EQ(co_await read_exactly(device, small.size()), small);

        // The device reads nothing yet: the socket's buffers fill long before 8 MiB.
        const std::size_t taken = server.write_now(asio::buffer(large), error);
        EXPECT_FALSE(error) << error.message();
        EXPECT_LT(taken, large.size()) << "8 MiB went out without a reader";
        EXPECT_FALSE(server.flushed()) << "the socket took every record OpenSSL wrote";
        auto [written, received] =
            co_await (asio::async_write(server, asio::buffer(large.data() + taken, large.size() - taken),
                                        asio::use_awaitable) &&
                      read_exactly(device, large.size()));
        EXPECT_EQ(taken + written, large.size());
        EXPECT_TRUE(server.flushed());
        EXPECT_TRUE(received == large) << "the bytes received differ from those sent";
    });
}

// read_request's reads: what has come is taken at once; when nothing has, the read that follows
// waits for it.
TEST_P(TlsStreamTest, ReadsNowWhatHasComeAndLeavesTheWaitToAsyncReadSome) {
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        auto [server, device] = co_await tls_pair<TlsStream, AsioTlsStream>(tls_);
        co_await expect_transfer(device, server, 1);  // TLS 1.3's tickets are behind the client now
        std::array<char, 100> into{};
        boost::system::error_code error;
        EXPECT_EQ(server.read_now(asio::buffer(into), error), 0u);
        EXPECT_FALSE(error) << error.message();
        auto [read, written] =
            co_await (server.async_read_some(asio::buffer(into), asio::use_awaitable) &&
                      asio::async_write(device, asio::buffer(pattern(10)), asio::use_awaitable));
        EXPECT_EQ(std::string(into.data(), read), pattern(10)) << "the wait after read_now got nothing";

        co_await asio::async_write(device, asio::buffer(pattern(50)), asio::use_awaitable);
        // Loopback delivers a moment later, not within the sender's call, on this kind of machine.
        co_await server.next_layer().socket().async_wait(asio::socket_base::wait_read, asio::use_awaitable);
        EXPECT_EQ(server.read_now(asio::buffer(into), error), 50u);
        EXPECT_FALSE(error) << error.message();
        EXPECT_EQ(std::string(into.data(), 50), pattern(50));
    });
}

// A held Ping's wait for Exchange's answer (UpstreamExchange::wait_for_answer): TLS 1.3's session
// tickets, which a server sends after the handshake, do not end it; the answer does, and is then
// read at once; a connection that ends ends it with an error.
TEST_P(TlsStreamTest, WaitsForApplicationDataWithoutTakingIt) {
    run_bounded(context_, [&]() -> asio::awaitable<void> {
        // Named references, not a structured binding: the lambdas below capture them (clang 14).
        auto streams = co_await tls_pair<AsioTlsStream, TlsStream>(tls_);
        auto& server = streams.first;
        auto& client = streams.second;
        bool answered = false;
        const auto answer_later = [&]() -> asio::awaitable<void> {
            asio::steady_timer later(co_await asio::this_coro::executor, std::chrono::milliseconds(200));
            co_await later.async_wait(asio::use_awaitable);
            answered = true;
            co_await asio::async_write(server, asio::buffer(pattern(30)), asio::use_awaitable);
        };
        const auto wait = [&]() -> asio::awaitable<boost::system::error_code> {
            auto [error] = co_await client.async_wait_input(use_nothrow);
            EXPECT_TRUE(answered) << "the wait ended before the answer came";
            co_return error;
        };
        const auto error = co_await (wait() && answer_later());
        EXPECT_FALSE(error) << error.message();
        EXPECT_TRUE(client.has_unread_input());
        std::array<char, 100> into{};
        boost::system::error_code read_error;
        EXPECT_EQ(client.read_now(asio::buffer(into), read_error), 30u) << "the wait took the answer";
        EXPECT_EQ(std::string(into.data(), 30), pattern(30));

        beast::get_lowest_layer(server).close();
        auto [ended] = co_await client.async_wait_input(use_nothrow);
        EXPECT_TRUE(ended) << "a closed connection ended the wait without an error";
    });
}

INSTANTIATE_TEST_SUITE_P(Versions, TlsStreamTest, ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION),
                         tls_version_name);

}  // namespace
}  // namespace easgate::testing
