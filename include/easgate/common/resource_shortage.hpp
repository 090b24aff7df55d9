#pragma once

#include <boost/system/error_code.hpp>
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

}  // namespace easgate::common
