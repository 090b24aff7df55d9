#include "socket_deadline.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>

namespace easgate::directory {
namespace {

bool would_block() { return errno == EAGAIN || errno == EWOULDBLOCK; }

// Waits until the socket is ready for `events`: false when the deadline passes first. An error
// counts as ready: the next read or write reports it.
bool wait_until_ready(const SocketDeadline& deadline, int fd, short events) {
    pollfd ready{fd, events, 0};
    while (!deadline.passed()) {
        if (::poll(&ready, 1, static_cast<int>(deadline.remaining().count())) >= 0 || errno != EINTR)
            return true;
    }
    return false;
}

}  // namespace

Sockbuf_IO SocketDeadline::io_{setup, nullptr, control, read, write, nullptr};

SocketDeadline::SocketDeadline() : callbacks_{on_connect, on_disconnect, this} {}

void SocketDeadline::arm(Clock::time_point deadline, bool new_session) {
    deadline_ = deadline;
    if (!new_session) return;
    connected_ = false;
    traffic_ = {};
}

std::chrono::milliseconds SocketDeadline::remaining() const {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline_ - Clock::now());
    return std::max(left, std::chrono::milliseconds(1));
}

int SocketDeadline::on_connect(LDAP* /*session*/, Sockbuf* socket, LDAPURLDesc* /*url*/,
                               sockaddr* /*address*/, ldap_conncb* callbacks) {
    auto* self = static_cast<SocketDeadline*>(callbacks->lc_arg);
    self->connected_ = true;
    // Under TLS (LBER_SBIOD_LEVEL_TRANSPORT) and over the TCP provider, which libldap adds after this
    // callback at LBER_SBIOD_LEVEL_PROVIDER: a higher level keeps this layer above it.
    return ber_sockbuf_add_io(socket, &io_, LBER_SBIOD_LEVEL_PROVIDER + 1, self) == 0 ? 0 : -1;
}

void SocketDeadline::on_disconnect(LDAP* /*session*/, Sockbuf* /*socket*/, ldap_conncb* /*callbacks*/) {}

int SocketDeadline::setup(Sockbuf_IO_Desc* layer, void* self) {
    layer->sbiod_pvt = self;
    return 0;
}

int SocketDeadline::control(Sockbuf_IO_Desc* layer, int option, void* argument) {
    return LBER_SBIOD_CTRL_NEXT(layer, option, argument);
}

// One read or write through the next layer: waits for the socket instead of reporting EAGAIN while
// a deadline is set, and fails with ETIMEDOUT once it has passed.
template <typename Next>
ber_slen_t SocketDeadline::transfer(Sockbuf_IO_Desc* layer, short events, Next next) {
    auto& deadline = *static_cast<SocketDeadline*>(layer->sbiod_pvt);
    int fd = -1;
    ber_sockbuf_ctrl(layer->sbiod_sb, LBER_SB_OPT_GET_FD, &fd);
    while (!deadline.passed()) {
        const ber_slen_t result = next();
        if (result > 0)
            (events == POLLIN ? deadline.traffic_.received : deadline.traffic_.sent) +=
                static_cast<std::uint64_t>(result);
        if (result >= 0 || !would_block() || !deadline.deadline_) return result;
        if (!wait_until_ready(deadline, fd, events)) break;
    }
    errno = ETIMEDOUT;
    return -1;
}

ber_slen_t SocketDeadline::read(Sockbuf_IO_Desc* layer, void* buffer, ber_len_t length) {
    return transfer(layer, POLLIN, [&] { return LBER_SBIOD_READ_NEXT(layer, buffer, length); });
}

ber_slen_t SocketDeadline::write(Sockbuf_IO_Desc* layer, void* buffer, ber_len_t length) {
    return transfer(layer, POLLOUT, [&] { return LBER_SBIOD_WRITE_NEXT(layer, buffer, length); });
}

}  // namespace easgate::directory
