#include "easgate/common/tls_stream.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/system/system_error.hpp>
#include <cerrno>
#include <cstring>
#include <new>

namespace easgate::common {

namespace asio = boost::asio;
using boost::system::error_code;

// OpenSSL's view of the socket: the bytes of the last wait first, then the socket itself, never
// blocking. A write the socket can't take whole is kept for the operation to write out; to OpenSSL
// it always succeeds, so it never holds a record back for a retry.
struct TlsStreamBio {
    static TlsStream& stream(BIO* bio) { return *static_cast<TlsStream*>(BIO_get_data(bio)); }

    static int read(BIO* bio, char* into, int size) {
        BIO_clear_retry_flags(bio);
        auto& s = stream(bio);
        if (size <= 0) return 0;
        const int waited = std::min(size, s.waited_end_ - s.waited_begin_);
        std::memcpy(into, s.waited_.data() + s.waited_begin_, static_cast<std::size_t>(waited));
        s.waited_begin_ = static_cast<std::uint8_t>(s.waited_begin_ + waited);
        // A wait that read less than it could left the socket empty: no system call to learn that again.
        if (waited == size || s.input_ended_ || (waited > 0 && s.socket_emptied_)) return given(bio, waited);
        ssize_t n;
        do {
            n = ::recv(s.tcp_.socket().native_handle(), into + waited,
                       static_cast<std::size_t>(size - waited), MSG_DONTWAIT);
        } while (n < 0 && errno == EINTR);
        if (n > 0) return waited + static_cast<int>(n);
        if (n == 0) {
            s.input_ended_ = true;  // seen by the operation (as asio::ssl::stream sees it), not by OpenSSL
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && waited == 0) {
            s.socket_error_.assign(errno, boost::system::system_category());
            return -1;
        }
        return given(bio, waited);
    }

    // What a read gives when the socket had nothing more: the bytes of the wait, or "try again".
    static int given(BIO* bio, int waited) {
        if (waited > 0) return waited;
        BIO_set_retry_read(bio);
        return -1;
    }

    static int write(BIO* bio, const char* from, int size) {
        BIO_clear_retry_flags(bio);
        auto& s = stream(bio);
        if (size <= 0) return 0;
        const auto* bytes = reinterpret_cast<const unsigned char*>(from);
        ssize_t n = 0;
        if (s.unsent_.empty()) {  // else this goes after what waits, and waits too
            do {
                n = ::send(s.tcp_.socket().native_handle(), bytes, static_cast<std::size_t>(size),
                           MSG_DONTWAIT | MSG_NOSIGNAL);
            } while (n < 0 && errno == EINTR);
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                s.socket_error_.assign(errno, boost::system::system_category());
                return -1;
            }
            n = std::max<ssize_t>(n, 0);
        }
        s.unsent_.insert(s.unsent_.end(), bytes + n, bytes + size);
        return size;
    }

    static long control(BIO* bio, int command, long, void*) {
        switch (command) {
            case BIO_CTRL_FLUSH:
                return 1;
            case BIO_CTRL_PENDING:
                return stream(bio).waited_end_ - stream(bio).waited_begin_;
            case BIO_CTRL_WPENDING:
                return static_cast<long>(stream(bio).unsent_.size());
            default:
                return 0;
        }
    }

    static BIO_METHOD* method() {
        static BIO_METHOD* const method = [] {
            BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "easgate socket");
            if (!m || BIO_meth_set_read(m, read) != 1 || BIO_meth_set_write(m, write) != 1 ||
                BIO_meth_set_ctrl(m, control) != 1)
                throw std::bad_alloc();
            return m;
        }();
        return method;
    }

    // A new SSL for context, whose BIO reaches the stream.
    static SSL* open(asio::ssl::context& context, TlsStream& stream) {
        SSL* ssl = SSL_new(context.native_handle());
        BIO* bio = ssl ? BIO_new(method()) : nullptr;
        if (!bio) {
            SSL_free(ssl);
            throw boost::system::system_error(
                error_code(static_cast<int>(ERR_get_error()), asio::error::get_ssl_category()), "SSL_new");
        }
        BIO_set_data(bio, &stream);
        BIO_set_init(bio, 1);
        SSL_set_bio(ssl, bio, bio);
        // The socket's bytes come in as large reads (fewer system calls); the record buffers are
        // freed whenever they are empty; a write retried after a handshake step may be gathered anew.
        SSL_set_read_ahead(ssl, 1);
        SSL_set_mode(ssl, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        return ssl;
    }
};

TlsStream::TlsStream(const executor_type& executor, asio::ssl::context& context)
    : tcp_(executor), ssl_(TlsStreamBio::open(context, *this)) {}

TlsStream::TlsStream(asio::ip::tcp::socket socket, asio::ssl::context& context)
    : tcp_(std::move(socket)), ssl_(TlsStreamBio::open(context, *this)) {}

TlsStream::TlsStream(TlsStream&& other) noexcept
    : tcp_(std::move(other.tcp_)),
      ssl_(std::move(other.ssl_)),
      waited_(other.waited_),
      waited_begin_(other.waited_begin_),
      waited_end_(other.waited_end_),
      unsent_(std::move(other.unsent_)),
      socket_emptied_(other.socket_emptied_),
      input_ended_(other.input_ended_),
      socket_error_(other.socket_error_) {
    if (ssl_) BIO_set_data(SSL_get_rbio(ssl_.get()), this);
}

bool TlsStream::has_unread_input() const {
    return SSL_has_pending(ssl_.get()) || waited_begin_ < waited_end_;
}

int TlsStream::Shutdown::operator()(TlsStream& stream, std::size_t&) const {
    const int sent = SSL_shutdown(stream.ssl_.get());
    return sent == 0 ? SSL_shutdown(stream.ssl_.get()) : sent;  // 0: sent, the peer's to come
}

void TlsStream::release_buffers() {
    // Not while part of a record waits in it (the check OpenSSL lacked before 3.0.14, CVE-2024-4741).
    if (!SSL_has_pending(ssl_.get())) SSL_free_buffers(ssl_.get());
}

void TlsStream::prepare_call() {
    // SSL_get_error must not find a stale error. Clearing an empty queue still walks and frees all
    // its slots (about 800 instructions, several times a request), so only a queue that holds one.
    if (ERR_peek_error() != 0) ERR_clear_error();
    socket_error_.clear();
    wait_first_ = false;
}

TlsStream::Outcome TlsStream::conclude(int result, std::size_t bytes) {
    if (result > 0) return {{}, bytes};
    const int ssl_error = SSL_get_error(ssl_.get(), result);
    const auto queued = static_cast<int>(ERR_get_error());
    switch (ssl_error) {
        case SSL_ERROR_WANT_READ:
            if (input_ended_) return {received(asio::error::eof, 0)};
            return {{}, 0, true};
        case SSL_ERROR_ZERO_RETURN:
            return {asio::error::eof};  // the peer's close_notify
        case SSL_ERROR_SYSCALL:
            if (socket_error_) return {socket_error_};
            if (queued == 0) return {asio::ssl::error::unspecified_system_error};
            return {error_code(queued, asio::error::get_ssl_category())};
        case SSL_ERROR_SSL:
            return {error_code(queued, asio::error::get_ssl_category())};
        default:  // WANT_WRITE never comes: writes always succeed (TlsStreamBio::write)
            return {asio::ssl::error::unexpected_result};
    }
}

error_code TlsStream::received(const error_code& error, std::size_t bytes) {
    waited_begin_ = 0;
    waited_end_ = static_cast<std::uint8_t>(bytes);
    socket_emptied_ = bytes < waited_.size();
    if (error != asio::error::eof) return error;
    input_ended_ = true;
    // The end of the connection is an error unless the peer said so in TLS first.
    if ((SSL_get_shutdown(ssl_.get()) & SSL_RECEIVED_SHUTDOWN) == 0)
        return asio::ssl::error::stream_truncated;
    return error;
}

}  // namespace easgate::common
