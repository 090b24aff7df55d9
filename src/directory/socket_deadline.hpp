#pragma once

#include <ldap.h>

#include <chrono>
#include <cstdint>
#include <optional>

namespace easgate::directory {

// A deadline for the socket I/O of one LDAP session, enforced by a Sockbuf layer that libldap's
// connection callback puts under TLS on every socket the session opens.
//
// Why: with LDAP_OPT_NETWORK_TIMEOUT set, libldap makes the socket non-blocking for the TLS
// handshake (LDAPS and StartTLS) and then calls the handshake again and again without waiting
// whenever it would block: a peer that accepts TCP and never answers the ClientHello hangs the
// session forever at 100% CPU. The layer waits (poll) for the socket instead of returning EAGAIN,
// and past the deadline fails the read or write with ETIMEDOUT, which ends the handshake.
//
// Used by the one thread that uses the session; the object must outlive the session.
class SocketDeadline {
public:
    using Clock = std::chrono::steady_clock;

    SocketDeadline();
    SocketDeadline(const SocketDeadline&) = delete;
    SocketDeadline& operator=(const SocketDeadline&) = delete;

    // For LDAP_OPT_CONNECT_CB.
    ldap_conncb* connect_callbacks() { return &callbacks_; }

    // Starts a phase of work (open, search) that must end by `deadline`; a new session (open) also
    // forgets connected() and traffic().
    void arm(Clock::time_point deadline, bool new_session);
    // No deadline: I/O behaves as libldap expects (used for the unbind on close).
    void disarm() { deadline_.reset(); }

    std::optional<Clock::time_point> deadline() const { return deadline_; }
    // The deadline has passed.
    bool passed() const { return deadline_ && Clock::now() >= *deadline_; }
    // The time left, at least 1 ms (libldap treats 0 as "no timeout" in places).
    std::chrono::milliseconds remaining() const;
    // Since the last new session: the TCP connection was established (the connection callback ran).
    bool connected() const { return connected_; }

    // Bytes through the session's socket so far; compared before and after an operation, they tell
    // what it was waiting for when the deadline passed.
    struct Traffic {
        std::uint64_t sent = 0;
        std::uint64_t received = 0;
    };
    Traffic traffic() const { return traffic_; }

private:
    static int on_connect(LDAP* session, Sockbuf* socket, LDAPURLDesc* url, sockaddr* address,
                          ldap_conncb* callbacks);
    static void on_disconnect(LDAP* session, Sockbuf* socket, ldap_conncb* callbacks);
    static ber_slen_t read(Sockbuf_IO_Desc* layer, void* buffer, ber_len_t length);
    static ber_slen_t write(Sockbuf_IO_Desc* layer, void* buffer, ber_len_t length);
    static int control(Sockbuf_IO_Desc* layer, int option, void* argument);
    static int setup(Sockbuf_IO_Desc* layer, void* argument);
    template <typename Next>
    static ber_slen_t transfer(Sockbuf_IO_Desc* layer, short events, Next next);

    static Sockbuf_IO io_;
    ldap_conncb callbacks_{};
    std::optional<Clock::time_point> deadline_;
    bool connected_ = false;
    Traffic traffic_;
};

}  // namespace easgate::directory
