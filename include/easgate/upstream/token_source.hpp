#pragma once

#include <boost/asio/awaitable.hpp>
#include <string>

#include "easgate/common/result.hpp"

namespace easgate::upstream {

// The credentials of one user's requests to Exchange, handed over by the delegation stage: the
// upstream exchange asks for a token when a request needs one, and never reaches back into
// delegation itself.
class TokenSource {
public:
    virtual ~TokenSource() = default;

    // A base64 token for "Authorization: Negotiate <token>". channel_binding is the upstream TLS
    // connection's "tls-server-end-point:<hash>" when the upstream uses Extended Protection, else empty.
    virtual boost::asio::awaitable<common::Result<std::string>> token(std::string channel_binding) = 0;

    // Exchange answered the last token other than with 401.
    virtual void accepted() = 0;

    // Exchange answered 401 to the last token. True when the credentials behind it were renewed, so
    // that the next token may fare better; false when renewing would not help.
    virtual boost::asio::awaitable<common::Result<bool>> renew() = 0;
};

}  // namespace easgate::upstream
