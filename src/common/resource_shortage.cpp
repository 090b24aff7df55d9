#include "easgate/common/resource_shortage.hpp"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace easgate::common {

std::optional<std::string> resource_shortage(const boost::system::error_code& ec) {
    if (ec.category() != boost::system::system_category() &&
        ec.category() != boost::system::generic_category())
        return std::nullopt;
    switch (ec.value()) {
        case EMFILE:
            return "too many open files: easgate reached its file-descriptor limit; raise LimitNOFILE in "
                   "its systemd unit (or ulimit -n), or lower limits.max_connections";
        case ENFILE:
            return "too many open files in the system: the kernel's file table is full; raise fs.file-max";
        case ENOBUFS:
        case ENOMEM:
            return "out of memory for sockets (" + ec.message() +
                   "): check the host's memory and net.ipv4.tcp_mem";
        default:
            return std::nullopt;
    }
}

std::optional<std::string> descriptor_shortage() {
    const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0) {
        ::close(probe);
        return std::nullopt;
    }
    return resource_shortage(boost::system::error_code(errno, boost::system::system_category()));
}

std::optional<OpenFileLimit> raise_open_file_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
    OpenFileLimit result{limit.rlim_cur, limit.rlim_cur, limit.rlim_max};
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &limit) == 0) result.now = limit.rlim_max;
    }
    return result;
}

}  // namespace easgate::common
