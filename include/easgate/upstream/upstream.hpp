#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "easgate/common/body_bytes.hpp"
#include "easgate/common/histogram.hpp"
#include "easgate/common/logging.hpp"
#include "easgate/common/lru_cache.hpp"
#include "easgate/common/read_buffer.hpp"
#include "easgate/common/tls_stream.hpp"
#include "easgate/config/config.hpp"
#include "easgate/upstream/address_book.hpp"

namespace easgate::upstream {

namespace beast = boost::beast;

// The longest response header, interim answers' included, Exchange may send.
constexpr std::uint32_t upstream_header_limit = 64 * 1024;

// A configured upstream: one or more Exchange servers behind one service principal (a CAS array),
// and how to reach them over TLS. Shared by every worker thread, hence the atomics.
class Upstream {
public:
    // A server that failed this many times in a row is left out for server_rest, then tried again
    // by one request at a time until one is answered well (nginx's max_fails / fail_timeout).
    static constexpr unsigned max_consecutive_failures = 3;
    static constexpr std::chrono::milliseconds server_rest{10'000};

    // Throws config::ConfigError naming key_prefix ("upstreams[0]") when ca_file is unusable.
    Upstream(const config::UpstreamConfig& config, const std::string& key_prefix,
             std::chrono::milliseconds rest = server_rest);

    const std::string& name() const { return config_.name; }
    std::size_t server_count() const { return config_.servers.size(); }
    const config::UpstreamTarget& server(std::size_t index) const { return config_.servers[index]; }
    boost::asio::ssl::context& tls_context() { return tls_; }
    // TLS session resumption: the last session a server gave, offered on the next connection to
    // it (an abbreviated handshake saves Exchange and easgate the key exchange).
    void offer_tls_session(SSL* ssl, std::size_t server);
    void count_tls_handshake(bool resumed);
    std::uint64_t tls_handshakes() const { return tls_handshakes_.load(std::memory_order_relaxed); }
    std::uint64_t tls_resumptions() const { return tls_resumptions_.load(std::memory_order_relaxed); }
    // 401s to easgate's Kerberos token that went on to a device: Exchange refused the delegated
    // ticket (and refused a new one, where easgate could send the request again with it).
    void count_token_refused() { tokens_refused_.fetch_add(1, std::memory_order_relaxed); }
    std::uint64_t tokens_refused() const { return tokens_refused_.load(std::memory_order_relaxed); }
    // Time from sending a request to Exchange's response header, long polls left out (they are held).
    common::Histogram& response_seconds() { return response_seconds_; }
    const common::Histogram& response_seconds() const { return response_seconds_; }
    config::UpstreamAuthentication authentication() const { return config_.authenticate; }
    config::SendAuthorization send_authorization() const { return config_.send_authorization; }
    bool binds_channel() const { return config_.channel_binding == config::ChannelBinding::automatic; }
    // Lets the explanation of Exchange's 401 through once per 10 s per server and cause: a refusal
    // of every ticket repeats for every request until an admin mends it.
    common::LogRateLimiter& refusal_log() { return refusal_log_; }
    // Where the servers' names were last found to point (AddressBook), and how often to look again.
    AddressBook& addresses() { return addresses_; }
    std::chrono::milliseconds dns_refresh() const { return config_.dns_refresh; }
    // Whether the request-target's path starts with one of `routes` (any case, as IIS matches).
    bool routes(std::string_view target) const;

    // The next server to connect to: the user's mailbox server when a 451 named one (and it is not
    // resting or failing its health check: a 451 must not pin a user to a server that is down), else the one
    // with the fewest requests in flight, ties going round-robin; skipping those in `tried` and those
    // resting after failures or failing health checks. When no other is left, one resting server
    // (`resting` says so), unless the request tried one already; nullopt once none is left.
    struct Pick {
        std::size_t server;
        bool resting = false;
    };
    // connect_timeout: how long the one request that tries a server back from its rest may take.
    std::optional<Pick> pick_server(const std::vector<bool>& tried, const std::string& user = {},
                                    bool resting_tried = false,
                                    std::chrono::milliseconds connect_timeout = std::chrono::milliseconds(0));
    // Whether server is neither resting after failures nor failing its health check.
    bool serving(std::size_t index) const;
    // Whether an idle connection to server may take a request: while others serve, not one to a
    // server that doesn't (drained for maintenance, say); with none serving, any that still works.
    bool may_reuse(std::size_t index) const { return serving(index) || !any_server_usable(); }
    // Passive health: a server's answers. A failure is a connection refused or timed out, no valid
    // answer or none in time, or a failing one (failing_server_answer); any other answer is a success,
    // which starts its count over and ends its rest, unless its request was sent (sent_at) before
    // the last failure counted: a held Ping answered late on an old connection says nothing of new
    // ones. A failure a user's request met (user not empty) counts only when the failure before it
    // was another's: one user's trouble (a mailbox, an account IIS refuses) must not rest a server
    // that serves everyone else.
    void record_success(std::size_t index,
                        std::chrono::steady_clock::time_point sent_at = std::chrono::steady_clock::now());
    void record_failure(std::size_t index, const std::string& reason, std::string_view user = {});
    // An active health check's verdict; a failed server is left out until one passes.
    void record_health_check(std::size_t index, bool passed, const std::string& detail);
    const std::optional<config::UpstreamConfig::HealthCheck>& health_check() const {
        return config_.health_check;
    }

    // Whether a server is neither resting after failures (nor held by the one request trying it
    // after its rest) nor failing its health check.
    bool any_server_usable() const;
    // /readyz: the same, but a server that one request is trying after its rest counts: were it
    // the only one, a load balancer would take every node out for the length of that try.
    bool any_server_ready() const;

    // The configured server with this scheme, host (any case) and port, if any.
    std::optional<std::size_t> find_server(const config::UpstreamTarget& wanted) const;
    // Exchange said (451) that user's mailbox is served by this server: go there from now on.
    void route_user_to(const std::string& user, std::size_t server);

    // The server a 451 named for user, if any.
    std::optional<std::size_t> routed_server(const std::string& user);

private:
    static constexpr std::size_t max_routed_users = 100'000;
    struct TlsSessionSlot {
        std::mutex mutex;
        SSL_SESSION* session = nullptr;
        ~TlsSessionSlot() { SSL_SESSION_free(session); }
    };
    static int keep_new_session(SSL* ssl, SSL_SESSION* session);
    bool usable(std::size_t index, std::int64_t now_ms) const;
    bool ready(std::size_t index, std::int64_t now_ms) const;
    // A server whose rest ended and that has not answered since: whether this request may try it.
    bool take_turn(std::size_t index, std::int64_t now_ms, std::chrono::milliseconds connect_timeout);

    friend class InFlight;
    struct ServerHealth {
        std::atomic<unsigned> outstanding{0};  // requests in flight, long polls included
        std::atomic<unsigned> consecutive_failures{0};
        std::atomic<std::size_t> last_failing_user{0};  // a hash of it; 0: none, or not a user's failure
        std::atomic<bool> failed_check{false};
        std::atomic<std::int64_t> resting_until_ms{0};  // steady_clock, milliseconds since its epoch
        std::atomic<std::int64_t> tried_until_ms{0};    // back from its rest: held by the one trying it
        std::atomic<std::int64_t> last_failure_ms{0};   // steady_clock: when the last one was counted
    };

    config::UpstreamConfig config_;
    std::chrono::milliseconds rest_;
    boost::asio::ssl::context tls_;
    std::unique_ptr<ServerHealth[]> health_;
    std::unique_ptr<TlsSessionSlot[]> tls_sessions_;
    AddressBook addresses_;
    common::LogRateLimiter refusal_log_{std::chrono::seconds(10)};
    std::atomic<std::uint64_t> tls_handshakes_{0};
    std::atomic<std::uint64_t> tls_resumptions_{0};
    std::atomic<std::uint64_t> tokens_refused_{0};
    common::Histogram response_seconds_{common::request_seconds_buckets};
    std::atomic<std::size_t> next_{0};
    std::atomic<bool> any_routed_{false};  // no lock on the common path, where no 451 was seen
    std::mutex routes_mutex_;
    common::LruCache<std::size_t> routed_users_{max_routed_users};  // user -> server index, from 451s
};

// A request in flight on one server, for the least-outstanding choice of the next server.
class InFlight {
public:
    InFlight(Upstream& upstream, std::size_t server) : health_(upstream.health_[server]) {
        health_.outstanding.fetch_add(1, std::memory_order_relaxed);
    }
    ~InFlight() { health_.outstanding.fetch_sub(1, std::memory_order_relaxed); }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

private:
    Upstream::ServerHealth& health_;
};

// Why an upstream exchange failed, worded for the operator, and what the device is told.
struct UpstreamFailure {
    unsigned status;  // 502 unreachable or broken, 504 timed out, 503 easgate's own shortage
    std::string reason;
    bool local = false;  // easgate ran out of something: no server is to blame, none is worth trying
};

// One connection to one upstream server, plain or TLS; kept alive across a device's requests.
class UpstreamConnection {
public:
    using PlainStream = beast::tcp_stream;
    using TlsStream = common::TlsStream;

    explicit UpstreamConnection(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {
        buffer_.max_size(common::read_buffer_limit(upstream_header_limit));
    }
    // A moved-from connection is closed (never a half-moved stream), so it can be reused or dropped.
    UpstreamConnection(UpstreamConnection&& other) noexcept { *this = std::move(other); }
    UpstreamConnection& operator=(UpstreamConnection&& other) noexcept {
        if (this == &other) return *this;
        close();
        executor_ = other.executor_;
        stream_ = std::move(other.stream_);
        buffer_ = std::move(other.buffer_);
        other.buffer_.clear();
        target_ = other.target_;
        server_ = other.server_;
        channel_binding_ = std::exchange(other.channel_binding_, {});
        authenticated_ = std::exchange(other.authenticated_, false);
        return *this;
    }
    ~UpstreamConnection() { close(); }

    // Resolves, connects and, for https, handshakes verifying the certificate and host name.
    boost::asio::awaitable<std::optional<UpstreamFailure>> open(Upstream& upstream, std::size_t server,
                                                                std::chrono::milliseconds timeout);

    // False once closed, or when the server closed its end while the connection sat idle.
    bool reusable();
    bool is_open() const { return stream_ != nullptr; }
    void close();
    // Aborts the operations in flight (they complete with operation_aborted); the caller closes.
    void cancel() {
        if (stream_) tcp().cancel();
    }

    beast::tcp_stream& tcp();
    // What was read from the server and not yet parsed; its memory is recycled (common::BufferAllocator).
    using ReadBuffer = beast::basic_flat_buffer<common::BufferAllocator<char>>;
    ReadBuffer& buffer() { return buffer_; }
    const config::UpstreamTarget& target() const { return *target_; }
    std::size_t server() const { return server_; }  // its index in the upstream's servers
    const boost::asio::any_io_executor& executor() const { return executor_; }
    // For Extended Protection: tls-server-end-point of this TLS connection, when the upstream binds
    // tokens to it; empty otherwise.
    const std::string& channel_binding() const { return channel_binding_; }
    // A backend that keeps Kerberos authentication per connection (authenticate: per_connection)
    // took a token on this connection and served the request with it.
    bool authenticated() const { return authenticated_; }
    void authenticated(bool yes) { authenticated_ = yes; }

    // The TLS stream of an https connection; null for plain http or a closed connection.
    TlsStream* tls() { return stream_ ? std::get_if<TlsStream>(stream_.get()) : nullptr; }
    // Calls f with the PlainStream or TlsStream.
    template <class F>
    decltype(auto) visit(F&& f) {
        return std::visit(std::forward<F>(f), *stream_);
    }

private:
    boost::asio::awaitable<boost::system::error_code> connect_in_turn(
        Upstream& upstream, std::size_t server, const AddressBook::Addresses& addresses,
        std::chrono::steady_clock::time_point deadline);

    boost::asio::any_io_executor executor_;
    using Stream = std::variant<PlainStream, TlsStream>;
    std::unique_ptr<Stream> stream_;  // on the heap: a TLS stream can be moved but not move-assigned
    ReadBuffer buffer_;
    const config::UpstreamTarget* target_ = nullptr;
    std::size_t server_ = 0;
    std::string channel_binding_;
    bool authenticated_ = false;
};

}  // namespace easgate::upstream
