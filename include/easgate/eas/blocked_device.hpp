#pragma once

#include <optional>
#include <string>

#include "easgate/eas/eas_request.hpp"

namespace easgate::eas {

// What Exchange answers a device its device access rules block (MS-ASCMD 2.2.2, global status 129
// DeviceIsBlockedForThisUser): from protocol 14.0 on, 200 OK with the command's own WBXML
// response holding only <Status>129</Status>; before 14.0, HTTP 403. The WBXML body for the
// request, or nullopt where 403 is the answer (an older protocol, or a command whose response has
// no top-level status).
std::optional<std::string> blocked_device_wbxml(const EasRequest& request);

}  // namespace easgate::eas
