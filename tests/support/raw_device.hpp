#pragma once

// A device that sends exactly the bytes a test gives it, for requests curl would never write
// (smuggling attempts, broken framing), or paced as a phone on a slow network would send them.

#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace easgate::testing {

// A device's TLS client context: trusts gateway_ca, presents cert (with its chain) and key.
boost::asio::ssl::context device_tls(const std::filesystem::path& gateway_ca,
                                     const std::filesystem::path& cert, const std::filesystem::path& key);

struct RawExchange {
    std::string response;       // every byte the gateway sent back
    bool closed = false;        // the gateway ended the connection (rather than the wait timing out)
    bool close_notify = false;  // ... with a TLS close_notify: what it sent is complete
};

// Connects to 127.0.0.1:port over TLS with the device certificate, writes request, and reads until
// the gateway closes the connection or timeout passes.
RawExchange send_raw(std::uint16_t port, const std::filesystem::path& gateway_ca,
                     const std::filesystem::path& cert, const std::filesystem::path& key,
                     const std::string& request, std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Writes header, then body_bytes of body in 16 KiB pieces spread over `duration`, as a phone
// uploading, without reading; then reads as send_raw does. body_sent: every write went out (a
// gateway that closed meanwhile makes them fail).
struct PacedUpload {
    bool body_sent = false;
    std::string response;
};
PacedUpload upload_paced(std::uint16_t port, const std::filesystem::path& gateway_ca,
                         const std::filesystem::path& cert, const std::filesystem::path& key,
                         const std::string& header, std::size_t body_bytes,
                         std::chrono::milliseconds duration);

using SessionPtr = std::unique_ptr<SSL_SESSION, void (*)(SSL_SESSION*)>;

struct ResumingExchange {
    std::string response;  // every byte the gateway sent back ("" when the handshake failed)
    bool resumed = false;  // the handshake resumed the session offered
    SessionPtr session{nullptr, SSL_SESSION_free};  // to offer next time
};

// One request on a connection of its own with the device's TLS context (device_tls, kept across
// its connections as a phone keeps it) that offers session (when not null) for resumption, as a
// phone reconnecting does; the connection is left without a close_notify, as phones leave.
ResumingExchange exchange_resuming(std::uint16_t port, boost::asio::ssl::context& tls,
                                   const std::string& request, SSL_SESSION* session);

// One device's kept-alive connection to the gateway, for requests one after another as a phone
// sends them: it connects when it has no connection, and after one broke or was closed. Never
// sends a request twice: what to do after a failure is the test's business, as it is the phone's.
class DeviceConnection {
public:
    // address: the gateway's listener (the lab's is not on 127.0.0.1).
    DeviceConnection(std::uint16_t port, const std::filesystem::path& gateway_ca,
                     const std::filesystem::path& cert, const std::filesystem::path& key,
                     const std::string& address = "127.0.0.1");
    ~DeviceConnection();
    DeviceConnection(const DeviceConnection&) = delete;
    DeviceConnection& operator=(const DeviceConnection&) = delete;

    // Writes request, pausing for `pause` after its first `split` bytes (0: no pause), and reads
    // the answer. Its status, or 0 when the connection broke or timed out before a whole answer came.
    unsigned exchange(const std::string& request, std::size_t split = 0,
                      std::chrono::milliseconds pause = std::chrono::milliseconds(0),
                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace easgate::testing
