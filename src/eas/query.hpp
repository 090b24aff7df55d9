#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "easgate/eas/eas_request.hpp"

// The two forms of the ActiveSync query (MS-ASHTTP 2.2.1.1.1) and the fields both check alike.
// Every reader returns "" or the reason the query is refused, worded as parse_eas_request promises.
namespace easgate::eas {

// The spec's spelling of a command named in either case, or nullopt for one it does not list.
std::optional<std::string_view> canonical_command(std::string_view name);
// The command a base64 command code stands for, or nullopt for an unassigned code.
std::optional<std::string_view> command_for_code(std::uint8_t code);

std::string device_id_error(std::string_view device_id);
std::string device_type_error(std::string_view device_type);

// A base64 query has no '&' and '=' only as trailing padding. "Cmd=" (empty value) is still plain,
// so the wrong form does not hide the real problem behind a base64 error.
bool is_plain_query(std::string_view query);
// `options`: the request is OPTIONS, which needs none of Cmd, DeviceId and DeviceType.
std::string parse_plain_query(std::string_view query, bool options, EasRequest& request);
std::string parse_base64_query(std::string_view query, EasRequest& request);

}  // namespace easgate::eas
