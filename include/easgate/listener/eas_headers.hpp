#pragma once

#include "easgate/common/header_arena.hpp"
#include "easgate/eas/eas_request.hpp"

namespace easgate::listener {

// The fields the ActiveSync parse reads (MS-ASProtocolVersion, X-MS-PolicyKey, User-Agent), the
// first of each as header[name] gives it, in one walk over the fields: a lookup by a name Beast has
// no constant for would walk them, comparing names case-insensitively, once per name.
eas::EasHeaders eas_headers_of(const common::RequestHeader& header);

}  // namespace easgate::listener
