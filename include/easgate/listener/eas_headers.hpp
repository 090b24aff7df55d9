#pragma once

#include "easgate/common/header_arena.hpp"
#include "easgate/eas/eas_request.hpp"

namespace easgate::listener {

// The fields the ActiveSync parse reads (MS-ASProtocolVersion, X-MS-PolicyKey, User-Agent), the
// first of each as header[name] gives it, in one walk over the fields: a lookup by a name Beast has
// no constant for would walk them, comparing names case-insensitively, once per name.
// A field sent twice is named in EasHeaders::repeated (the parse refuses the request).
eas::EasHeaders eas_headers_of(const common::RequestHeader& header);

// One of those fields: the policy judges them, so a device's Connection may not take them away
// from what Exchange reads.
bool is_eas_header(std::string_view name);

}  // namespace easgate::listener
