#pragma once

// One CRL download from an http:// CRL Distribution Point.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <string>

namespace easgate::identity {

struct FetchedCrl {
    std::string body;   // the answer's body when error is empty
    std::string error;  // why there is no CRL: unreachable, timed out, not 200, too large
};

// GETs url (http://host[:port]/path) with one deadline, timeout, for the name lookup, the connect,
// the request and the whole answer; a body over max_bytes is abandoned.
boost::asio::awaitable<FetchedCrl> fetch_crl(const std::string& url, std::chrono::milliseconds timeout,
                                             std::uint64_t max_bytes);

}  // namespace easgate::identity
