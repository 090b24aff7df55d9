#pragma once

// One CRL download from a CRL Distribution Point: http://, or ldap:/// from the directory.

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "easgate/common/result.hpp"
#include "easgate/config/config.hpp"

namespace easgate::identity {

struct FetchedCrl {
    std::string body;       // the answer's body when error is empty
    std::string error;      // why there is no CRL: unreachable, timed out, not 200, too large
    bool unusable = false;  // the location can never give one (an LDAP URL easgate does not read)
};

// GETs url (http://host[:port]/path) with one deadline, timeout, for the name lookup, the connect,
// the request and the whole answer; a body over max_bytes is abandoned.
boost::asio::awaitable<FetchedCrl> fetch_crl(const std::string& url, std::chrono::milliseconds timeout,
                                             std::uint64_t max_bytes);

// Reads an ldap:/// distribution point's value from the directory, each DC's read within timeout
// (crl_refresh.timeout): the directory client's read_published, handed in by the application
// (identity sits below the directory).
using DirectoryCrlReader = std::function<boost::asio::awaitable<common::Result<std::string>>(
    const std::string& url, std::chrono::milliseconds timeout)>;

// Whether easgate can fetch a distribution point: http://, or ldap:/// (AD CS's default, listed first
// in its CDPs; no server named: the CRL is in the configuration partition every DC holds).
bool fetchable_crl_url(const std::string& url);
bool directory_crl_url(const std::string& url);

// The CRL at a fetchable distribution point: over http (fetch_crl), or read with directory, within
// the directory's own timeouts (an ldap:/// URL without a directory is an error saying so).
boost::asio::awaitable<FetchedCrl> fetch_crl_from(std::string url, config::CrlRefresh settings,
                                                  DirectoryCrlReader directory);

}  // namespace easgate::identity
