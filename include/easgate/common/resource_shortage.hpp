#pragma once

#include <boost/system/error_code.hpp>
#include <cstdint>
#include <optional>
#include <string>

namespace easgate::common {

// When an error means this host ran out of something (file descriptors, socket memory), what ran
// out and the remedy. Such a failure is easgate's own: it must never be blamed on a server and
// never count against one.
std::optional<std::string> resource_shortage(const boost::system::error_code& ec);

// Whether the process is out of descriptors right now, found by opening one. For failures whose
// error hides the cause: a resolver that could not open /etc/hosts says "host not found".
std::optional<std::string> descriptor_shortage();

// The soft limit on open files before and after raise_open_file_limit(), and the hard limit.
struct OpenFileLimit {
    std::uint64_t before = 0;
    std::uint64_t now = 0;
    std::uint64_t hard = 0;
};

// Raises the soft limit on open files to the hard one, as Go's runtime and nginx's
// worker_rlimit_nofile do: a shell's or a container's soft 1024 runs out at a few hundred held
// Pings (each costs a descriptor for the device and one for Exchange). nullopt when it can't be read.
std::optional<OpenFileLimit> raise_open_file_limit();

}  // namespace easgate::common
