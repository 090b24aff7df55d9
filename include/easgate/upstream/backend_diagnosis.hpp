#pragma once

#include <string_view>

namespace easgate::upstream {

// Whether a 400 from the backend says the request header was too long: HTTP.sys ("Request Header
// Too Long", "The size of the request headers is too long") or Apache ("Size of a request header
// field exceeds server limit"). reason: the status line's text; body_start: what of the body has
// arrived. Users in many groups carry Kerberos tokens large enough for this.
bool says_header_too_long(std::string_view reason, std::string_view body_start);

}  // namespace easgate::upstream
