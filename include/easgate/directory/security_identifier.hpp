#pragma once

// Security identifiers (SIDs) between the text form certificates carry ("S-1-5-21-…-1105", in the
// KB5014754 SID extension) and the binary form Active Directory stores in objectSid.

#include <optional>
#include <string>
#include <string_view>

namespace easgate::directory {

// "S-1-5-21-…" from objectSid's bytes; nullopt when they are not a SID.
std::optional<std::string> sid_text(std::string_view binary);

// objectSid's bytes from "S-1-5-21-…"; nullopt when the text is not a SID.
std::optional<std::string> sid_binary(std::string_view text);

}  // namespace easgate::directory
