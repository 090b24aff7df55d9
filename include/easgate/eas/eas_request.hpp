#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace easgate::eas {

// Which endpoint a request-target names. Anything but the two EAS endpoints is `other`; the
// caller decides what to do with it.
enum class EasPath { active_sync, autodiscover, other };

// The request header fields the parser reads, as the HTTP layer found them ("" when absent).
// Plain views so the parser does not depend on Beast and can be fuzzed on its own.
struct EasHeaders {
    std::string_view protocol_version = {};  // MS-ASProtocolVersion
    std::string_view policy_key = {};        // X-MS-PolicyKey
    std::string_view user_agent = {};        // User-Agent
    // Sent twice, the policy would judge one value while Exchange, which joins repeated fields,
    // reads another. User-Agent is judged on every path; `repeated` names the first of the other
    // two the device sent twice (they count on ActiveSync's path only).
    bool user_agent_repeated = false;
    std::string_view repeated = {};
};

// What an ActiveSync request says about itself, from its request-target (MS-ASHTTP 2.2.1.1.1) and
// headers. Both query forms give the same fields, so later stages need not know which was used.
struct EasRequest {
    EasPath path = EasPath::other;
    // The spec's spelling ("Sync", "Ping", "SendMail", ...) whatever case the device used; a name
    // the spec does not list is kept as sent. "" for OPTIONS and for paths other than ActiveSync.
    std::string command;
    // Informational only: the spec calls it a value "that can be logged" (2.2.1.1.1.1.3), and it is
    // optional in the base64 form; identity comes from the certificate, never from here.
    std::string user;
    // Plain form: as sent. Base64 form: the bytes as text when all are visible ASCII, otherwise
    // upper-case hex of all bytes (a binary GUID, 2.2.1.1.1.1, becomes 32 hex digits).
    std::string device_id;
    std::string device_type;
    std::string protocol_version;  // "14.1": base64 Protocol version field, else the header
    std::string policy_key;        // decimal: base64 Policy key field, else the X-MS-PolicyKey header
    std::string locale;            // base64 form only: the LCID as "0x" and 4 upper-case hex digits
    std::string user_agent;
    // Command parameters other than Cmd/User/DeviceId/DeviceType, in request order. Names the spec
    // lists (2.2.1.1.1.2.5) take its spelling; base64 Options bits become SaveInSent=T and
    // AcceptMultiPart=T, the plain form's way of saying the same.
    std::vector<std::pair<std::string, std::string>> parameters;
    bool base64_query = false;

    // The value of a command parameter, its name compared ignoring ASCII case. Points into
    // `parameters`, so it lives as long as this request is not changed.
    std::optional<std::string_view> parameter(std::string_view name) const;
};

// The command as a metric label, from a bounded set: the spec's spelling of a command it lists,
// "other" for any other name a device sent, "-" for a request without one (OPTIONS, other paths).
std::string_view command_label(const EasRequest& request);
// Every value command_label() can return, in a fixed order.
std::span<const std::string_view> command_labels();

// Either a request or the reason it is malformed, worded for a 400 reason phrase or a log line.
// The reason repeats nothing the device sent but numbers and parameter names, and a name only once
// it is known to be letters and digits.
struct EasParseResult {
    std::optional<EasRequest> request;
    std::string error;

    explicit operator bool() const { return request.has_value(); }
};

// Longest query accepted, as sent (still percent-encoded); EAS queries carry a few short IDs.
inline constexpr std::size_t max_query_bytes = 8 * 1024;
// Most parameters accepted in one query, either form.
inline constexpr std::size_t max_query_parameters = 64;
// Longest device_id accepted, as returned (so binary base64 IDs may have at most 64 bytes).
inline constexpr std::size_t max_device_id_bytes = 128;

// Parses an origin-form request-target (the HTTP layer has refused the other forms) and the EAS
// header fields. The path (up to '?') is percent-decoded and compared ignoring case; one trailing
// '/' is allowed; '.', '..' and empty segments and backslashes are refused, so that no spelling the
// mailbox server would normalise to an EAS endpoint is classified as `other`.
//
// For the ActiveSync path, the query is the plain form when it has '&', or an '=' that is not base64
// padding, or starts with a known parameter name; otherwise base64. Plain form: names ignore case,
// values are percent-decoded ('+' is read as a space, tolerated though not EAS), a repeated name is
// refused (a proxy and the mailbox server could each pick a different copy), and Cmd, DeviceId and
// DeviceType are required except for OPTIONS. Base64 form: standard or URL-safe alphabet,
// percent-encoded or not, padding optional; every length is checked against what is left.
// OPTIONS never has a command: a Cmd or command code in its query is ignored. Other methods are not
// judged here. For autodiscover and other paths neither the query nor the EAS headers are read, only
// User-Agent. Never throws.
EasParseResult parse_eas_request(std::string_view method, std::string_view target, const EasHeaders& headers);

}  // namespace easgate::eas
