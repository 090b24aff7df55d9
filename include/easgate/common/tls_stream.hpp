#pragma once

// A TLS connection that holds no buffers while idle, for connections that wait most of their life
// (an ActiveSync Ping is held up to an hour, on the device's connection and on Exchange's).
// asio::ssl::stream keeps four 17 KiB buffers per connection for as long as it lives; here OpenSSL
// reads and writes the socket itself (through a BIO of ours), so what is left while nothing moves
// is OpenSSL's own state, whose record buffers SSL_MODE_RELEASE_BUFFERS frees.

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/write.hpp>
#include <boost/assert.hpp>
#include <boost/beast/core/buffer_traits.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "easgate/common/heavy_steps.hpp"
#include "easgate/common/openssl_ptr.hpp"

namespace easgate::common {

// A TLS stream over a beast::tcp_stream (next_layer(), so beast::get_lowest_layer and its timeouts
// apply to every wait), with the interface of asio::ssl::stream that Beast's HTTP functions use.
//
// When OpenSSL needs bytes that have not arrived, the stream waits with a read of a few bytes into
// an array it holds, through the tcp_stream; OpenSSL gets those first, then reads the socket
// directly. When the socket takes less than OpenSSL wrote, the rest is kept in a buffer made only
// then and written out through the tcp_stream before the operation completes; the buffer is freed
// after. Errors are those asio::ssl::stream reports: asio::error::eof after the peer's
// close_notify, ssl::error::stream_truncated when the connection ended without one,
// beast::error::timeout and operation_aborted from the tcp_stream.
//
// One operation at a time (handshake, read, write or shutdown): each may both read and write the
// socket. No operation may be pending when the stream is moved.
class TlsStream {
public:
    using next_layer_type = boost::beast::tcp_stream;
    using executor_type = next_layer_type::executor_type;

    TlsStream(const executor_type& executor, boost::asio::ssl::context& context);
    TlsStream(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& context);
    TlsStream(TlsStream&& other) noexcept;
    TlsStream& operator=(TlsStream&&) = delete;
    ~TlsStream() = default;

    executor_type get_executor() noexcept { return tcp_.get_executor(); }
    next_layer_type& next_layer() { return tcp_; }
    const next_layer_type& next_layer() const { return tcp_; }
    SSL* native_handle() { return ssl_.get(); }

    // Whether bytes were received that no read has taken yet: records OpenSSL holds (decrypted or
    // not) or bytes of the last wait it has not taken.
    bool has_unread_input() const;

    template <class Token>
    auto async_handshake(boost::asio::ssl::stream_base::handshake_type type, Token&& token) {
        if (type == boost::asio::ssl::stream_base::client) {
            SSL_set_connect_state(ssl_.get());
        } else {
            SSL_set_accept_state(ssl_.get());
        }
        return start<void(boost::system::error_code)>(Handshake{}, std::forward<Token>(token));
    }

    // Sends close_notify and waits for the peer's, as asio::ssl::stream does.
    template <class Token>
    auto async_shutdown(Token&& token) {
        return start<void(boost::system::error_code)>(Shutdown{}, std::forward<Token>(token));
    }

    template <class MutableBufferSequence, class Token>
    auto async_read_some(const MutableBufferSequence& buffers, Token&& token) {
        return start<void(boost::system::error_code, std::size_t)>(Read{first_buffer(buffers)},
                                                                   std::forward<Token>(token));
    }

    // Completes once application data has come that a read can take at once, or with why none
    // will come. The caller holds no read buffer meanwhile: an answer Exchange keeps back for up to
    // an hour (a held Ping) costs nothing until it comes.
    template <class Token>
    auto async_wait_input(Token&& token) {
        return start<void(boost::system::error_code)>(AwaitInput{}, std::forward<Token>(token));
    }

    // Up to one TLS record's worth: the first buffer, or the start of the sequence gathered when the
    // first buffer is smaller (a header and its body go out in one record, not two).
    template <class ConstBufferSequence, class Token>
    auto async_write_some(const ConstBufferSequence& buffers, Token&& token) {
        return start<void(boost::system::error_code, std::size_t)>(Write<ConstBufferSequence>{buffers},
                                                                   std::forward<Token>(token));
    }

    // A write done here and now, as far as it needs no wait: OpenSSL takes as much of `buffers` as it
    // can without waiting for input, while the socket takes all it writes. Returns the bytes taken;
    // the rest, if any, goes with async_write, which also sends out what the socket did not take
    // (flushed() is false then, even when all of `buffers` was taken). Nearly every write of a
    // request or response is done here, without an operation and the post that ends it. The read
    // after a write waits for the socket first: the peer's answer has rarely come yet.
    template <class ConstBufferSequence>
    std::size_t write_now(const ConstBufferSequence& buffers, boost::system::error_code& error) {
        BOOST_ASSERT_MSG(!busy_, "an operation is pending on this TlsStream");
        boost::beast::buffers_suffix<ConstBufferSequence> rest(buffers);
        std::size_t written = 0;
        while (unsent_.empty() && boost::beast::buffer_bytes(rest) > 0) {
            const auto outcome = perform(Write<decltype(rest)>{rest});
            if ((error = outcome.error) || outcome.wants_input) break;
            rest.consume(outcome.bytes);
            written += outcome.bytes;
        }
        wait_first_ = !error;
        return written;
    }

    // Whether the socket took every byte OpenSSL wrote.
    bool flushed() const { return unsent_.empty(); }

    // A read done here and now, when its bytes have come (a kept-alive device's next request often
    // has): what OpenSSL holds or gets from the socket at once, without an operation. 0 without an
    // error: nothing has come, and an async_read_some after it waits at once, without asking the
    // socket a second time.
    template <class MutableBufferSequence>
    std::size_t read_now(const MutableBufferSequence& buffers, boost::system::error_code& error) {
        BOOST_ASSERT_MSG(!busy_, "an operation is pending on this TlsStream");
        const auto outcome = perform(Read{first_buffer(buffers)});
        error = outcome.error;
        wait_first_ = outcome.wants_input && !outcome.error;
        return outcome.error ? 0 : outcome.bytes;
    }

private:
    friend struct TlsStreamBio;
    static constexpr std::size_t record_bytes = 16 * 1024;  // TLS's largest record payload
    static constexpr std::size_t wait_bytes = 64;           // what one wait for input reads

    // What one call into OpenSSL came to.
    struct Outcome {
        boost::system::error_code error;
        std::size_t bytes = 0;
        bool wants_input = false;
    };

    // The OpenSSL call of each operation, repeated until it neither waits for input nor fails.
    // heavy: each call waits its turn among its thread's HeavySteps.
    struct Handshake {
        static constexpr bool transfers = false;
        static constexpr bool heavy = true;
        int operator()(TlsStream& stream, std::size_t&) const { return SSL_do_handshake(stream.ssl_.get()); }
    };
    struct Shutdown {
        static constexpr bool transfers = false;
        static constexpr bool heavy = false;
        int operator()(TlsStream& stream, std::size_t&) const;
    };
    struct Read {
        static constexpr bool transfers = true;
        static constexpr bool heavy = false;
        boost::asio::mutable_buffer into;
        // Only the socket can bring bytes when OpenSSL holds none: the wait asks it before OpenSSL.
        bool waits_first(const TlsStream& stream) const { return stream.wait_first_ && into.size() > 0; }
        int operator()(TlsStream& stream, std::size_t& bytes) const {
            if (into.size() == 0) return 1;
            return SSL_read_ex(stream.ssl_.get(), into.data(), into.size(), &bytes);
        }
    };
    // Looks at the first byte of application data without taking it: records of TLS's own (a TLS
    // 1.3 server's session tickets come after the handshake) are processed, and only data ends the wait.
    struct AwaitInput {
        static constexpr bool transfers = false;
        static constexpr bool heavy = false;
        bool waits_first(const TlsStream&) const { return true; }
        int operator()(TlsStream& stream, std::size_t& bytes) const {
            unsigned char first = 0;
            return SSL_peek_ex(stream.ssl_.get(), &first, 1, &bytes);
        }
    };
    template <class ConstBufferSequence>
    struct Write {
        static constexpr bool transfers = true;
        static constexpr bool heavy = false;
        ConstBufferSequence buffers;
        int operator()(TlsStream& stream, std::size_t& bytes) const {
            const auto first = first_buffer(buffers);
            const std::size_t size = std::min(boost::asio::buffer_size(buffers), record_bytes);
            if (size == 0) return 1;
            if (first.size() >= size) return SSL_write_ex(stream.ssl_.get(), first.data(), size, &bytes);
            std::array<unsigned char, record_bytes> gathered;
            boost::asio::buffer_copy(boost::asio::buffer(gathered.data(), size), buffers);
            return SSL_write_ex(stream.ssl_.get(), gathered.data(), size, &bytes);
        }
    };

    template <class Action>
    class Operation;

    template <class Signature, class Action, class Token>
    auto start(Action action, Token&& token) {
        return boost::asio::async_compose<Token, Signature>(Operation<Action>{*this, std::move(action)},
                                                            token, tcp_);
    }

    template <class BufferSequence>
    static boost::beast::buffers_type<BufferSequence> first_buffer(const BufferSequence& buffers) {
        for (const auto buffer : boost::beast::buffers_range_ref(buffers))
            if (buffer.size() > 0) return buffer;
        return {};
    }

    // Calls into OpenSSL (action returns what the SSL_ function did) and says what comes next.
    template <class Action>
    Outcome perform(const Action& action) {
        prepare_call();
        std::size_t bytes = 0;
        const int result = action(*this, bytes);
        return conclude(result, bytes);
    }
    void prepare_call();
    Outcome conclude(int result, std::size_t bytes);
    // The end of a wait for input: its bytes are OpenSSL's next, or why there are none.
    boost::system::error_code received(const boost::system::error_code& error, std::size_t bytes);
    // OpenSSL keeps its read buffer through a wait for input, which may last an hour.
    void release_buffers();
    boost::asio::const_buffer unsent() const { return boost::asio::buffer(unsent_); }
    void sent() { std::vector<unsigned char>().swap(unsent_); }

    boost::beast::tcp_stream tcp_;
    OpenSslPtr<SSL, SSL_free> ssl_;
    std::array<unsigned char, wait_bytes> waited_{};  // read by the last wait for input
    std::uint8_t waited_begin_ = 0, waited_end_ = 0;  // what OpenSSL has not taken of it
    std::vector<unsigned char> unsent_;               // written by OpenSSL, not yet taken by the socket
    bool busy_ = false;                               // an operation is pending (one at a time)
    bool socket_emptied_ = false;                     // the last wait read less than it could
    bool input_ended_ = false;                        // the peer closed its end of the connection
    // The next read waits for the socket before it asks OpenSSL (a system call, and a record buffer
    // made and freed, for nothing): read_now found nothing, or a write was the last call.
    bool wait_first_ = false;
    boost::system::error_code socket_error_;  // why the socket failed, in the last call
};

// One operation: calls into OpenSSL, writing out what the socket did not take and waiting for
// input (both through the tcp_stream, under its timeout) until OpenSSL is done or fails.
template <class Action>
class TlsStream::Operation {
public:
    Operation(TlsStream& stream, Action action) : stream_(stream), action_(std::move(action)) {}

    template <class Self>
    void operator()(Self& self, boost::system::error_code error = {}, std::size_t bytes = 0) {
        switch (state_) {
            case State::starting:
                BOOST_ASSERT_MSG(!stream_.busy_, "another operation is pending on this TlsStream");
                stream_.busy_ = true;
                if constexpr (Action::heavy) return wait_turn(self);
                if constexpr (requires { action_.waits_first(stream_); }) {
                    if (action_.waits_first(stream_) && !stream_.has_unread_input()) {
                        outcome_.wants_input = true;
                        return go_on(self);
                    }
                }
                break;
            case State::waiting:
                if ((outcome_.error = stream_.received(error, bytes))) return complete(self);
                if constexpr (Action::heavy) return wait_turn(self);
                break;
            case State::turn:
                break;
            case State::writing:
                stream_.sent();
                if (error && !outcome_.error) outcome_ = {error};
                return go_on(self);
            case State::posted:
                return complete(self);
        }
        outcome_ = stream_.perform(action_);
        if (stream_.unsent_.empty()) return go_on(self);
        state_ = State::writing;
        suspended_ = true;
        boost::asio::async_write(stream_.tcp_, stream_.unsent(), std::move(self));
    }

private:
    enum class State { starting, waiting, turn, writing, posted };

    template <class Self>
    void wait_turn(Self& self) {
        state_ = State::turn;
        suspended_ = true;
        const auto executor = stream_.tcp_.get_executor();
        HeavySteps::of(executor).take_turn(executor, std::move(self));
    }

    template <class Self>
    void go_on(Self& self) {
        if (!outcome_.error && outcome_.wants_input) {
            stream_.release_buffers();
            state_ = State::waiting;
            suspended_ = true;
            stream_.tcp_.async_read_some(boost::asio::buffer(stream_.waited_), std::move(self));
        } else if (!suspended_) {
            // Done without waiting: the handler must not run inside the initiating call.
            state_ = State::posted;
            boost::asio::post(stream_.tcp_.get_executor(), std::move(self));
        } else {
            complete(self);
        }
    }

    template <class Self>
    void complete(Self& self) {
        stream_.busy_ = false;
        constexpr bool writes = Action::transfers && !std::is_same_v<Action, Read>;
        if constexpr (writes) stream_.wait_first_ = !outcome_.error;
        if constexpr (Action::transfers) {
            self.complete(outcome_.error, outcome_.error ? 0 : outcome_.bytes);
        } else {
            self.complete(outcome_.error);
        }
    }

    TlsStream& stream_;
    Action action_;
    State state_ = State::starting;
    bool suspended_ = false;  // waited or wrote at least once
    Outcome outcome_;
};

}  // namespace easgate::common
